// PLMS (A1111's sd_samplers_timesteps_impl.plms): pseudo linear multistep. The first step is a pseudo improved Euler
// step (a second model call at the next timestep); later steps use Adams-Bashforth on up to four past epsilons.
import { lincomb } from './vec';
import { ddimUpdate } from './ddim';
import type { TimestepSampler } from './sampler-run';
import type { TimestepCallPlan } from './discretization';

export function plms(calls: TimestepCallPlan[]): TimestepSampler {
  return function* (x, { acp }) {
    const old: Float32Array[] = [];
    for (let i = 0; i < calls.length; i++) {
      const { t, tPrev, alphaPrev } = calls[i];
      const a = acp[t];
      const { eps } = yield { x, t, step: i };
      let prime: Float32Array;
      if (old.length === 0) {
        const xPrev = ddimUpdate(x, eps, eps, a, alphaPrev);
        const { eps: next } = yield { x: xPrev, t: tPrev, step: i };
        prime = lincomb([0.5, eps], [0.5, next]);
      } else if (old.length === 1) {
        prime = lincomb([3 / 2, eps], [-1 / 2, old[old.length - 1]]);
      } else if (old.length === 2) {
        prime = lincomb([23 / 12, eps], [-16 / 12, old[old.length - 1]], [5 / 12, old[old.length - 2]]);
      } else {
        prime = lincomb([55 / 24, eps], [-59 / 24, old[old.length - 1]], [37 / 24, old[old.length - 2]], [-9 / 24, old[old.length - 3]]);
      }
      x = ddimUpdate(x, prime, prime, a, alphaPrev);
      old.push(eps);
      if (old.length >= 4) old.shift();
    }
    return x;
  };
}
