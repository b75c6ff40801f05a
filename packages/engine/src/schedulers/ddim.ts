// DDIMScheduler with eta = 0: predict x0 from epsilon, then move to the previous timestep's noise level.
import { alphasCumprod, spacedTimesteps, stepsForStrength } from './tables';
import type { SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

/** sqrt(alphā) * x0 + sqrt(1 - alphā) * noise: diffusers' add_noise */
export function addNoise(init: Float32Array, noise: Float32Array, alphaBar: number): Float32Array {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return Float32Array.from(init, (v, i) => a * v + b * noise[i]);
}

export class DdimRun implements SamplerRun {
  private readonly acp: Float64Array;
  private readonly timesteps: Float64Array;
  private readonly ratio: number;
  private readonly finalAlpha: number;
  private index = 0;

  constructor(opts: SamplerCreateOptions) {
    this.acp = alphasCumprod(opts.config);
    const all = spacedTimesteps(opts.config, opts.steps);
    this.timesteps = all.slice(opts.steps - stepsForStrength(opts.steps, opts.strength));
    this.ratio = Math.floor(opts.config.num_train_timesteps / opts.steps);
    this.finalAlpha = opts.config.set_alpha_to_one ? 1 : this.acp[0];
  }

  get steps(): number { return this.timesteps.length; }
  get stepIndex(): number { return this.index; }
  get done(): boolean { return this.index >= this.timesteps.length; }
  nextTimestep(): number { return this.timesteps[this.index]; }
  scaleInput(x: Float32Array): Float32Array { return x; }

  initLatent(noise: Float32Array, init?: Float32Array): Float32Array {
    return init ? addNoise(init, noise, this.acp[this.timesteps[0]]) : Float32Array.from(noise);
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
