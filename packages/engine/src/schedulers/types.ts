import type { NoiseSource } from '../rng';
export type { NoiseSource } from '../rng';

/** scheduler/scheduler_config.json, keys as diffusers writes them. */
export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  steps_offset?: number;
  timestep_spacing?: string;
  prediction_type?: string;
  set_alpha_to_one?: boolean;
  [key: string]: unknown;
}

/** One image's run through a sampler: fresh per image, pure math on Float32Arrays. */
export interface SamplerRun {
  /** user-visible steps this run takes (img2img: the reduced count) */
  readonly steps: number;
  /** steps completed so far */
  readonly stepIndex: number;
  readonly done: boolean;
  /** txt2img: noise scaled to the first sigma; img2img: init latent noised to the start of the truncated schedule */
  initLatent(noise: Float32Array, init?: Float32Array): Float32Array;
  /** UNet timestep of the next model call */
  nextTimestep(): number;
  scaleInput(x: Float32Array): Float32Array;
  /** consumes one model call's (guided) epsilon; Heun needs two calls per step */
  step(modelOutput: Float32Array, x: Float32Array, noise: NoiseSource): Float32Array;
}

export interface SamplerCreateOptions {
  config: SchedulerConfig;
  steps: number;
  /** 1 for txt2img; img2img runs the last max(1, floor(steps * strength)) steps */
  strength: number;
}

export interface SamplerSpec {
  name: string;
  aliases: string[];
  create(opts: SamplerCreateOptions): SamplerRun;
}
