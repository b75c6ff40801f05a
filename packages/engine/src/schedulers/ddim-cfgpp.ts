// DDIM CFG++ (A1111's ddim_cfgpp, "CFG++: Manifold-constrained Classifier Free Guidance", 2024): x0 from the
// guided prediction with the CFG scale divided by 12.5, but the step re-noises along the unconditional prediction.
import { ddimUpdate } from './ddim';
import type { TimestepSampler } from './sampler-run';
import type { TimestepCallPlan } from './discretization';

export const CFGPP_SCALE_MULTIPLIER = 1 / 12.5;

export function ddimCfgpp(calls: TimestepCallPlan[]): TimestepSampler {
  return function* (x, { acp }) {
    for (let i = 0; i < calls.length; i++) {
      const { t, alphaPrev } = calls[i];
      const { eps, uncondEps } = yield { x, t, step: i };
      x = ddimUpdate(x, eps, uncondEps ?? eps, acp[t], alphaPrev);
    }
    return x;
  };
}
