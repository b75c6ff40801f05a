// The sigma schedule shared by the k-diffusion family (Euler, Euler a, DPM++ 2M, Heun, LMS):
// sigmas for each step (plus a final 0) and the UNet timestep for each sigma, truncated for img2img.
import { karrasSigmas, sigmaAt, spacedTimesteps, stepsForStrength, timestepForSigma, trainSigmas } from './tables';
import type { SamplerCreateOptions } from './types';

export interface SigmaSchedule {
  /** length steps + 1, descending, last is 0 */
  sigmas: Float64Array;
  /** UNet timestep for sigmas[i], i < steps */
  timesteps: Float64Array;
}

export function sigmaSchedule(opts: SamplerCreateOptions, karras: boolean): SigmaSchedule {
  const table = trainSigmas(opts.config);
  const full = spacedTimesteps(opts.config, opts.steps);
  let sigmas: Float64Array = Float64Array.from(full, (t) => sigmaAt(table, t));
  let timesteps: Float64Array = full;
  if (karras) {
    sigmas = karrasSigmas(sigmas[sigmas.length - 1], sigmas[0], opts.steps);
    timesteps = Float64Array.from(sigmas, (s) => timestepForSigma(table, s));
  }
  const run = stepsForStrength(opts.steps, opts.strength);
  const start = opts.steps - run;
  const withZero = new Float64Array(run + 1);
  withZero.set(sigmas.subarray(start));
  return { sigmas: withZero, timesteps: timesteps.slice(start) };
}

/** Base for samplers that work in sigma space: input scaling, init latent and bookkeeping. */
export abstract class SigmaSamplerRun {
  protected readonly sigmas: Float64Array;
  protected readonly timesteps: Float64Array;
  protected index = 0;

  constructor(opts: SamplerCreateOptions, karras: boolean) {
    const s = sigmaSchedule(opts, karras);
    this.sigmas = s.sigmas;
    this.timesteps = s.timesteps;
  }

  get steps(): number { return this.timesteps.length; }
  get stepIndex(): number { return this.index; }
  get done(): boolean { return this.index >= this.timesteps.length; }

  /** sigma of the next model call */
  protected currentSigma(): number { return this.sigmas[this.index]; }

  nextTimestep(): number { return this.timesteps[this.index]; }

  initLatent(noise: Float32Array, init?: Float32Array): Float32Array {
    const s0 = this.sigmas[0];
    const out = new Float32Array(noise.length);
    for (let i = 0; i < out.length; i++) out[i] = (init ? init[i] : 0) + noise[i] * s0;
    return out;
  }

  scaleInput(x: Float32Array): Float32Array {
    const k = 1 / Math.sqrt(this.currentSigma() ** 2 + 1);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] * k;
    return out;
  }
}
