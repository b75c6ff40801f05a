// HeunDiscreteScheduler: an Euler predictor, then a corrector that averages the slopes at both ends.
// Two model calls per step except the last (sigma_next = 0), which is a plain Euler step.
import { SigmaSamplerRun } from './sigma-schedule';
import type { SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

export class HeunRun extends SigmaSamplerRun implements SamplerRun {
  /** set between the predictor and corrector calls */
  private pending: { x: Float32Array; slope: Float32Array } | null = null;

  protected override currentSigma(): number {
    return this.pending ? this.sigmas[this.index + 1] : this.sigmas[this.index];
  }

  override nextTimestep(): number {
    if (!this.pending) return this.timesteps[this.index];
    const next = this.index + 1;
    return next < this.timesteps.length ? this.timesteps[next] : 0;
  }

  step(eps: Float32Array, x: Float32Array): Float32Array {
    const sigma = this.sigmas[this.index];
    const sigmaNext = this.sigmas[this.index + 1];
    const dt = sigmaNext - sigma;
    const out = new Float32Array(x.length);
    if (this.pending) {
      const { x: x0, slope } = this.pending;
      for (let i = 0; i < x.length; i++) out[i] = x0[i] + ((slope[i] + eps[i]) / 2) * dt;
      this.pending = null;
      this.index++;
      return out;
    }
    for (let i = 0; i < x.length; i++) out[i] = x[i] + eps[i] * dt;
    if (sigmaNext === 0) this.index++;
    else this.pending = { x, slope: eps };
    return out;
  }
}

export const heun: SamplerSpec = { name: 'Heun', aliases: ['k_heun', 'heun'], create: (o: SamplerCreateOptions) => new HeunRun(o, false) };
