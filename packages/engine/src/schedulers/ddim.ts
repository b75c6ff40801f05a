// DDIM (A1111's sd_samplers_timesteps_impl.ddim, eta 0): predict x0 from epsilon, move to the previous timestep's
// noise level along the predicted noise.
import { lincomb } from './vec';
import type { TimestepSampler } from './sampler-run';
import type { TimestepCallPlan } from './discretization';

/** one deterministic DDIM update from alpha-bar a to aPrev with the given x0 direction */
export function ddimUpdate(x: Float32Array, eps: Float32Array, direction: Float32Array, a: number, aPrev: number): Float32Array {
  // x0 = (x - sqrt(1 - a) eps) / sqrt(a); x' = sqrt(aPrev) x0 + sqrt(1 - aPrev) direction
  const k = Math.sqrt(aPrev) / Math.sqrt(a);
  return lincomb([k, x], [-k * Math.sqrt(1 - a), eps], [Math.sqrt(1 - aPrev), direction]);
}

export function ddim(calls: TimestepCallPlan[]): TimestepSampler {
  return function* (x, { acp }) {
    for (let i = 0; i < calls.length; i++) {
      const { t, alphaPrev } = calls[i];
      const { eps } = yield { x, t, step: i };
      x = ddimUpdate(x, eps, eps, acp[t], alphaPrev);
    }
    return x;
  };
}
