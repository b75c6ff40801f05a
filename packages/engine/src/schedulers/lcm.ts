// LCMScheduler: consistency-model steps over timesteps picked from a 50-step origin schedule; fresh noise between steps.
import { stepsForStrength } from './tables';
import { AlphaSamplerRun, addNoise } from './alpha-schedule';
import type { NoiseSource, SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

const ORIGINAL_STEPS = 50;
const SIGMA_DATA = 0.5;
const TIMESTEP_SCALING = 10;

export function lcmTimesteps(trainSteps: number, steps: number): number[] {
  const k = Math.floor(trainSteps / ORIGINAL_STEPS);
  const origin = Array.from({ length: ORIGINAL_STEPS }, (_, i) => (i + 1) * k - 1).reverse();
  const skip = Math.max(1, Math.floor(origin.length / steps));
  return origin.filter((_, i) => i % skip === 0).slice(0, steps);
}

export class LcmRun extends AlphaSamplerRun implements SamplerRun {
  constructor(opts: SamplerCreateOptions) {
    const all = lcmTimesteps(opts.config.num_train_timesteps, Math.min(opts.steps, ORIGINAL_STEPS));
    super(opts.config, all.slice(all.length - stepsForStrength(all.length, opts.strength)));
  }

  step(eps: Float32Array, x: Float32Array, noise: NoiseSource): Float32Array {
    const t = this.timesteps[this.index];
    const last = this.index === this.timesteps.length - 1;
    const scaled = t * TIMESTEP_SCALING;
    const cSkip = SIGMA_DATA ** 2 / (scaled ** 2 + SIGMA_DATA ** 2);
    const cOut = scaled / Math.sqrt(scaled ** 2 + SIGMA_DATA ** 2);
    const a = this.acp[t];
    const denoised = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const x0 = (x[i] - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a);
      denoised[i] = cOut * x0 + cSkip * x[i];
    }
    this.index++;
    if (last) return denoised;
    return addNoise(denoised, noise.randn(x.length), this.acp[this.timesteps[this.index]]);
  }
}

export const lcm: SamplerSpec = { name: 'LCM', aliases: ['lcm'], create: (o: SamplerCreateOptions) => new LcmRun(o) };
