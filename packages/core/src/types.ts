// The shapes every package agrees on. Validation (zod) lives in schemas.ts; these are the parsed results.

export type JobKind = 'txt2img' | 'img2img';

export interface LoraRef {
  name: string;
  weight: number;
}

export type ControlNetModule = 'canny' | 'none';

export interface ControlNetUnit {
  /** base64 image (no data: prefix) */
  image: string;
  module: ControlNetModule;
  /** folder name of a model under MODELS_DIR that has controlnet/model.onnx, or 'default' for the model's own */
  model: string;
  weight: number;
  guidance_start: number;
  guidance_end: number;
  processor_res: number;
  /** canny low threshold */
  threshold_a: number;
  /** canny high threshold */
  threshold_b: number;
}

/** Where initial and ancestral noise come from: numpy (diffusers' ONNX pipeline), GPU/NV (A1111's Philox imitation of
 * torch.randn on CUDA), CPU (torch's CPU generator). */
export const RANDN_SOURCES = ['numpy', 'GPU', 'NV', 'CPU'] as const;
export type RandnSource = (typeof RANDN_SOURCES)[number];

/** A fully resolved generation request: every default applied, seed never -1. */
export interface GenerationParams {
  kind: JobKind;
  model: string;
  prompt: string;
  negative_prompt: string;
  /** canonical A1111 sampler name, e.g. "Euler a", "DPM++ 2M" */
  sampler: string;
  /** A1111 schedule type label: "Automatic" | "Karras" | ... (see samplers.ts) */
  scheduler: string;
  /**
   * Which noise levels / timesteps the sampler visits: 'a1111' (k-diffusion's sigmas, A1111's timesteps; what
   * /sdapi/v1 uses) or 'diffusers' (the model's timestep_spacing, as diffusers). Absent means 'diffusers'.
   */
  discretization?: 'a1111' | 'diffusers';
  steps: number;
  cfg_scale: number;
  width: number;
  height: number;
  /** image i of iteration k uses seed + k * batch_size + i */
  seed: number;
  batch_size: number;
  n_iter: number;
  /** img2img only: fraction of the schedule that is re-noised and run */
  denoising_strength: number;
  /** img2img only: base64 image, no data: prefix */
  init_image?: string;
  /** A1111 resize_mode: 0 just resize, 1 crop and resize, 2 resize and fill */
  resize_mode: number;
  loras: LoraRef[];
  controlnet: ControlNetUnit[];
  /** noise generator; absent means numpy */
  randn_source?: RandnSource;
  /** A1111 variation seed of image k is subseed + k; used when subseed_strength > 0 */
  subseed?: number;
  subseed_strength?: number;
  /** A1111 "resize seed from": the noise is drawn for this pixel size and pasted centred; <= 0 means off */
  seed_resize_from_w?: number;
  seed_resize_from_h?: number;
  /** A1111 eta_noise_seed_delta (ENSD): noise after the first draw comes from seed + delta */
  eta_noise_seed_delta?: number;
}
