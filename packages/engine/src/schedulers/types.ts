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

/**
 * The noise a sampler draws for one image. `randn` is the image's own stream (ancestral steps, A1111's
 * `torch.randn_like`); `brownian` is the increment of a Brownian motion between two noise levels, normalised to
 * unit variance, for the SDE samplers (A1111: a torchsde BrownianTree seeded with the image's seed). Without
 * `brownian` the samplers draw fresh normals from `randn` instead.
 */
export interface SamplerNoise extends NoiseSource {
  brownian?(sigma: number, sigmaNext: number, n: number): Float32Array;
}

/** One image's run through a sampler: fresh per image, pure math on Float32Arrays. */
export interface SamplerRun {
  /** user-visible steps this run takes (img2img: the reduced count) */
  readonly steps: number;
  /** steps completed so far */
  readonly stepIndex: number;
  readonly done: boolean;
  /** the guidance scale is multiplied by this (DDIM CFG++: 1/12.5); 1 when absent */
  readonly cfgMultiplier?: number;
  /** true when `step` needs the unconditional prediction even at cfg_scale 1 (DDIM CFG++) */
  readonly needsUncond?: boolean;
  /** the noise range an SDE sampler's Brownian motion spans (A1111: the full schedule's sigma_min..sigma_max) */
  readonly brownianRange?: { sigmaMin: number; sigmaMax: number };
  /** txt2img: noise scaled to the first noise level; img2img: the init latent noised to the start of its schedule */
  initLatent(noise: Float32Array, init?: Float32Array): Float32Array;
  /** UNet timestep of the next model call (fractional where the discretization interpolates) */
  nextTimestep(): number;
  scaleInput(x: Float32Array): Float32Array;
  /**
   * Consumes one model call's guided prediction (epsilon or v, as the model's prediction_type) made at the point
   * the previous call returned (or initLatent); returns the point of the next model call, or the final latent when
   * `done`. Multi-call samplers (Heun, DPM2, SDE, ...) take several calls per step. `uncond` is the unguided
   * prediction, given when `needsUncond`.
   */
  step(modelOutput: Float32Array, x: Float32Array, noise: SamplerNoise, uncond?: Float32Array): Float32Array;
}

/** 'a1111': k-diffusion's sigmas and A1111's timesteps (the /sdapi/v1 default); 'diffusers': diffusers' spacing. */
export type Discretization = 'a1111' | 'diffusers';

export interface SamplerCreateOptions {
  config: SchedulerConfig;
  steps: number;
  /** 1 for txt2img; the img2img denoising strength otherwise */
  strength: number;
  /** A1111 schedule type label (Automatic, Karras, ...); default Automatic */
  scheduleType?: string;
  /** default 'diffusers' */
  discretization?: Discretization;
}

export interface SamplerSpec {
  name: string;
  aliases: string[];
  create(opts: SamplerCreateOptions): SamplerRun;
}
