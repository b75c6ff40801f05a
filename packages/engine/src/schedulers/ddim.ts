// DDIMScheduler with eta = 0: predict x0 from epsilon, then move to the previous timestep's noise level.
import { spacedTimesteps, stepsForStrength } from './tables';
import { AlphaSamplerRun } from './alpha-schedule';
import type { SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

export class DdimRun extends AlphaSamplerRun implements SamplerRun {
  private readonly ratio: number;
  private readonly finalAlpha: number;

  constructor(opts: SamplerCreateOptions) {
    const all = spacedTimesteps(opts.config, opts.steps);
    super(opts.config, all.slice(opts.steps - stepsForStrength(opts.steps, opts.strength)));
    this.ratio = Math.floor(opts.config.num_train_timesteps / opts.steps);
    this.finalAlpha = opts.config.set_alpha_to_one ? 1 : this.acp[0];
  }

  step(eps: Float32Array, x: Float32Array): Float32Array {
    const t = this.timesteps[this.index];
    const prev = t - this.ratio;
    const a = this.acp[t];
    const aPrev = prev >= 0 ? this.acp[prev] : this.finalAlpha;
    const sa = Math.sqrt(a);
    const s1a = Math.sqrt(1 - a);
    const saPrev = Math.sqrt(aPrev);
    const s1aPrev = Math.sqrt(1 - aPrev);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const x0 = (x[i] - s1a * eps[i]) / sa;
      out[i] = saPrev * x0 + s1aPrev * eps[i];
    }
    this.index++;
    return out;
  }
}

export const ddim: SamplerSpec = { name: 'DDIM', aliases: ['ddim'], create: (o: SamplerCreateOptions) => new DdimRun(o) };
