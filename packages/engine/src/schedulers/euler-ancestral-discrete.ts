// EulerAncestralDiscreteScheduler: step down to sigma_down deterministically, then add fresh noise of sigma_up.
import { SigmaSamplerRun } from './sigma-schedule';
import type { NoiseSource, SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

export function ancestralSigmas(sigma: number, sigmaNext: number): { down: number; up: number } {
  if (sigmaNext === 0) return { down: 0, up: 0 };
  const up = Math.min(sigmaNext, Math.sqrt((sigmaNext ** 2 * (sigma ** 2 - sigmaNext ** 2)) / sigma ** 2));
  return { down: Math.sqrt(sigmaNext ** 2 - up ** 2), up };
}

export class EulerAncestralRun extends SigmaSamplerRun implements SamplerRun {
  step(eps: Float32Array, x: Float32Array, noise: NoiseSource): Float32Array {
    const sigma = this.sigmas[this.index];
    const { down, up } = ancestralSigmas(sigma, this.sigmas[this.index + 1]);
    const dt = down - sigma;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] + eps[i] * dt;
    if (up > 0) {
      const z = noise.randn(x.length);
      for (let i = 0; i < x.length; i++) out[i] += z[i] * up;
    }
    this.index++;
    return out;
  }
}

export const eulerAncestral: SamplerSpec = { name: 'Euler a', aliases: ['k_euler_a', 'euler_ancestral'], create: (o: SamplerCreateOptions) => new EulerAncestralRun(o, false) };
