// EulerDiscreteScheduler: x' = x + eps * (sigma_next - sigma)  (the derivative of an epsilon model is eps).
import { SigmaSamplerRun } from './sigma-schedule';
import type { SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

export class EulerRun extends SigmaSamplerRun implements SamplerRun {
  step(eps: Float32Array, x: Float32Array): Float32Array {
    const dt = this.sigmas[this.index + 1] - this.sigmas[this.index];
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] + eps[i] * dt;
    this.index++;
    return out;
  }
}

export const euler: SamplerSpec = { name: 'Euler', aliases: ['k_euler', 'euler'], create: (o: SamplerCreateOptions) => new EulerRun(o, false) };
