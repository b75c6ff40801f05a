// Base for samplers that work in timestep (alpha-bar) space, as DDIM and LCM do: no input scaling, the init latent
// noised with diffusers' add_noise, and the step bookkeeping.
import { alphasCumprod } from './tables';
import type { NoiseSource, SchedulerConfig } from './types';

/** sqrt(alphā) * x0 + sqrt(1 - alphā) * noise: diffusers' add_noise */
export function addNoise(init: Float32Array, noise: Float32Array, alphaBar: number): Float32Array {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return Float32Array.from(init, (v, i) => a * v + b * noise[i]);
}

export abstract class AlphaSamplerRun {
  protected readonly acp: Float64Array;
  protected index = 0;

  constructor(config: SchedulerConfig, protected readonly timesteps: ArrayLike<number>) {
    this.acp = alphasCumprod(config);
  }

  get steps(): number { return this.timesteps.length; }
  get stepIndex(): number { return this.index; }
  get done(): boolean { return this.index >= this.timesteps.length; }
  nextTimestep(): number { return this.timesteps[this.index]; }
  scaleInput(x: Float32Array): Float32Array { return x; }

  initLatent(noise: Float32Array, init?: Float32Array): Float32Array {
    return init ? addNoise(init, noise, this.acp[this.timesteps[0]]) : Float32Array.from(noise);
  }

  abstract step(modelOutput: Float32Array, x: Float32Array, noise: NoiseSource): Float32Array;
}
