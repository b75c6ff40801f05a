// The shapes every package agrees on. Validation (zod) lives in schemas.ts; these are the parsed results.

export type JobKind = 'txt2img' | 'img2img' | 'extras';

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
  /** a VAE folder in VAE_DIR (A1111's sd_vae) whose decoder replaces the model's; absent: the model's own */
  vae?: string;
  /** steps between live previews (A1111's show_progress_every_n_steps with live_previews_enable); absent or 0: none. Never changes the image. */
  live_preview_every?: number;
  /** A1111 eta_noise_seed_delta (ENSD): noise after the first draw comes from seed + delta */
  eta_noise_seed_delta?: number;
  /** A1111 CLIP_stop_at_last_layers: text states from the hidden state N - 1 layers before the last (absent: 1) */
  clip_skip?: number;
  /** img2img only: inpainting with a mask (A1111's fields) */
  inpaint?: InpaintParams;
  /** img2img: the noise is multiplied by this before sampling (A1111 initial_noise_multiplier, default 1) */
  initial_noise_multiplier?: number;
  /** inpainting (9-channel) models: how much of the masked image is hidden from the conditioning (A1111 default 1) */
  inpainting_mask_weight?: number;
  /** txt2img only: hires fix (a second, img2img pass at a larger size) */
  hires?: HiresParams;
  /** seamless textures: circular padding in every UNet and VAE convolution */
  tiling?: boolean;
  /** img2img: A1111's "SD upscale" script (upscale init_image, then img2img it tile by tile of width x height) */
  sd_upscale?: SdUpscaleParams;
  /** kind 'extras': postprocessing of init_image (upscaling) */
  extras?: ExtrasParams;
}

/** A1111's inpainting fields, resolved. */
export interface InpaintParams {
  /** base64 image, no data: prefix; white (or opaque, for an RGBA mask with transparency) = repaint */
  mask: string;
  mask_blur_x: number;
  mask_blur_y: number;
  /** 0 fill, 1 original, 2 latent noise, 3 latent nothing */
  inpainting_fill: 0 | 1 | 2 | 3;
  /** "Only masked": crop around the mask, work at width x height, paste back */
  inpaint_full_res: boolean;
  inpaint_full_res_padding: number;
  inpainting_mask_invert: boolean;
  mask_round: boolean;
}

/** A1111's hires fix fields, resolved (target size computed as A1111 calculate_target_resolution does). */
export interface HiresParams {
  hr_scale: number;
  hr_resize_x: number;
  hr_resize_y: number;
  /** a latent mode ("Latent", "Latent (bicubic)", ...), "None", "Lanczos", "Nearest" or an upscaler model's name */
  hr_upscaler: string;
  /** whether the request named hr_upscaler (A1111 writes "Hires upscaler" only then) */
  hr_upscaler_given: boolean;
  hr_second_pass_steps: number;
  hr_sampler_name?: string;
  hr_scheduler?: string;
  hr_prompt: string;
  hr_negative_prompt: string;
  hr_cfg?: number;
  /** hires pass denoising strength (A1111's denoising_strength on txt2img) */
  denoising_strength: number;
}

/** A1111's SD upscale script arguments, resolved. */
export interface SdUpscaleParams {
  /** pixels adjacent tiles share (blended linearly) */
  overlap: number;
  /** pixel upscaler name ("None", "Lanczos", "Nearest" or an upscaler model) */
  upscaler: string;
  scale_factor: number;
}

/** A1111's extras (postprocessing upscale) fields for one image. */
export interface ExtrasParams {
  /** 0: scale by upscaling_resize; 1: scale to upscaling_resize_w x upscaling_resize_h */
  resize_mode: 0 | 1;
  upscaling_resize: number;
  upscaling_resize_w: number;
  upscaling_resize_h: number;
  upscaling_crop: boolean;
  upscaler_1: string;
  upscaler_2: string;
  extras_upscaler_2_visibility: number;
  /** name of the image in extra-batch-images */
  name?: string;
}
