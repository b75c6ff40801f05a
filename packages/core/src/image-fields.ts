// A1111's inpainting, hires fix and tiling fields (the same names on the native API and on /sdapi), checked and
// resolved once: defaults as StableDiffusionProcessingImg2Img / Txt2Img have them.
import { z } from 'zod/v4';
import { finiteNumber as finite } from './finite-number';
import { ValidationError } from './errors';
import { BUILTIN_UPSCALERS, DEFAULT_LATENT_UPSCALE_MODE, LATENT_UPSCALE_MODES, isLatentUpscaler } from './upscalers';
import type { HiresParams, InpaintParams, JobKind } from './types';

/** pydantic coerces 0/1 to bool; A1111 clients send either */
const flag = z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => v === true || v === 1);

export const imageFieldsShape = {
  mask: z.string().min(1).nullable().optional(),
  mask_blur: z.number().int().min(0).max(256).nullable().optional(),
  mask_blur_x: z.number().int().min(0).max(256).default(4),
  mask_blur_y: z.number().int().min(0).max(256).default(4),
  mask_round: z.boolean().default(true),
  inpainting_fill: z.number().int().min(0).max(3).default(0),
  inpaint_full_res: flag.default(true),
  inpaint_full_res_padding: z.number().int().min(0).max(4096).default(0),
  inpainting_mask_invert: flag.default(false),
  initial_noise_multiplier: finite.min(0).max(10).nullable().optional(),
  inpainting_mask_weight: finite.min(0).max(1).nullable().optional(),
  enable_hr: z.boolean().default(false),
  hr_scale: finite.gt(0).max(16).default(2),
  hr_upscaler: z.string().nullable().optional(),
  hr_second_pass_steps: z.number().int().min(0).default(0),
  hr_resize_x: z.number().int().min(0).default(0),
  hr_resize_y: z.number().int().min(0).default(0),
  hr_sampler_name: z.string().nullable().optional(),
  hr_scheduler: z.string().nullable().optional(),
  hr_prompt: z.string().max(100_000).default(''),
  hr_negative_prompt: z.string().max(100_000).default(''),
  hr_cfg: finite.min(0).max(100).nullable().optional(),
  tiling: z.boolean().nullable().optional(),
};

export type ImageFields = z.infer<z.ZodObject<typeof imageFieldsShape>>;

export interface ImageFieldsContext {
  kind: JobKind;
  width: number;
  height: number;
  steps: number;
  maxPixels: number;
  maxSteps: number;
  /** pixel upscaler names the farm has besides the built-in ones (upscaler models) */
  upscalers: string[];
  /** the request's denoising_strength, if it named one */
  denoisingStrength?: number;
  /** fields the request actually sent (A1111 ignores img2img-only fields on txt2img and the reverse) */
  sent: (field: string) => boolean;
  checkSampler(sampler: string, scheduler: string): void;
}

export interface HiresTarget {
  /** the hires pass's latent size is toX/8 x toY/8 before truncation */
  toX: number;
  toY: number;
  truncateX: number;
  truncateY: number;
  /** final image size */
  width: number;
  height: number;
}

/** A1111 calculate_target_resolution, then the size the VAE gives back (latent size x 8, truncated). */
export function hiresTarget(width: number, height: number, h: Pick<HiresParams, 'hr_scale' | 'hr_resize_x' | 'hr_resize_y'>): HiresTarget {
  let toX: number;
  let toY: number;
  let truncateX = 0;
  let truncateY = 0;
  if (h.hr_resize_x === 0 && h.hr_resize_y === 0) {
    toX = Math.trunc(width * h.hr_scale);
    toY = Math.trunc(height * h.hr_scale);
  } else if (h.hr_resize_y === 0) {
    toX = h.hr_resize_x;
    toY = Math.floor((h.hr_resize_x * height) / width);
  } else if (h.hr_resize_x === 0) {
    toX = Math.floor((h.hr_resize_y * width) / height);
    toY = h.hr_resize_y;
  } else {
    if (width / height < h.hr_resize_x / h.hr_resize_y) {
      toX = h.hr_resize_x;
      toY = Math.floor((h.hr_resize_x * height) / width);
    } else {
      toX = Math.floor((h.hr_resize_y * width) / height);
      toY = h.hr_resize_y;
    }
    truncateX = Math.floor((toX - h.hr_resize_x) / 8);
    truncateY = Math.floor((toY - h.hr_resize_y) / 8);
  }
  return { toX, toY, truncateX, truncateY, width: (Math.floor(toX / 8) - truncateX) * 8, height: (Math.floor(toY / 8) - truncateY) * 8 };
}

export function knownUpscaler(name: string, models: string[]): boolean {
  return isLatentUpscaler(name) || (BUILTIN_UPSCALERS as readonly string[]).includes(name) || models.includes(name);
}

function resolveInpaint(f: ImageFields): InpaintParams | undefined {
  if (!f.mask) return undefined;
  const blur = f.mask_blur ?? undefined;
  return {
    mask: f.mask.startsWith('data:') && f.mask.includes(',') ? f.mask.slice(f.mask.indexOf(',') + 1) : f.mask,
    mask_blur_x: blur ?? f.mask_blur_x,
    mask_blur_y: blur ?? f.mask_blur_y,
    inpainting_fill: f.inpainting_fill as InpaintParams['inpainting_fill'],
    inpaint_full_res: f.inpaint_full_res,
    inpaint_full_res_padding: f.inpaint_full_res_padding,
    inpainting_mask_invert: f.inpainting_mask_invert,
    mask_round: f.mask_round,
  };
}

function resolveHires(f: ImageFields, ctx: ImageFieldsContext): HiresParams {
  const upscaler = f.hr_upscaler ?? DEFAULT_LATENT_UPSCALE_MODE;
  if (!knownUpscaler(upscaler, ctx.upscalers)) {
    throw new ValidationError(
      `could not find upscaler named "${upscaler}"; available: ${[...Object.keys(LATENT_UPSCALE_MODES), ...BUILTIN_UPSCALERS, ...ctx.upscalers].join(', ')}`,
      'hr_upscaler',
    );
  }
  if (f.hr_second_pass_steps > ctx.maxSteps) throw new ValidationError(`hr_second_pass_steps must be at most ${ctx.maxSteps}`, 'hr_second_pass_steps');
  if (f.hr_sampler_name || f.hr_scheduler) ctx.checkSampler(f.hr_sampler_name || 'Euler', f.hr_scheduler || 'Automatic');
  const hires: HiresParams = {
    hr_scale: f.hr_scale,
    hr_resize_x: f.hr_resize_x,
    hr_resize_y: f.hr_resize_y,
    hr_upscaler: upscaler,
    hr_upscaler_given: f.hr_upscaler != null,
    hr_second_pass_steps: f.hr_second_pass_steps,
    hr_prompt: f.hr_prompt,
    hr_negative_prompt: f.hr_negative_prompt,
    denoising_strength: ctx.denoisingStrength ?? 0.75,
    ...(f.hr_sampler_name ? { hr_sampler_name: f.hr_sampler_name } : {}),
    ...(f.hr_scheduler ? { hr_scheduler: f.hr_scheduler } : {}),
    ...(f.hr_cfg != null ? { hr_cfg: f.hr_cfg } : {}),
  };
  const t = hiresTarget(ctx.width, ctx.height, hires);
  const field = f.hr_resize_x || f.hr_resize_y ? 'hr_resize_x' : 'hr_scale';
  if (t.width < 64 || t.height < 64) throw new ValidationError(`hires fix would give ${t.width}x${t.height}; the smallest size is 64x64`, field);
  if (t.toX * t.toY > ctx.maxPixels) throw new ValidationError(`hires fix to ${t.toX}x${t.toY} exceeds the maximum of ${ctx.maxPixels} pixels`, field);
  return hires;
}

/** The inpainting fields: img2img only; on txt2img they change nothing and are reported unused. */
export const INPAINT_FIELDS = [
  'mask',
  'mask_blur',
  'mask_blur_x',
  'mask_blur_y',
  'inpainting_fill',
  'inpaint_full_res',
  'inpaint_full_res_padding',
  'inpainting_mask_invert',
  'mask_round',
  'initial_noise_multiplier',
] as const;

/** The hires fix fields: txt2img only; on img2img they change nothing and are reported unused. */
export const HIRES_FIELDS = [
  'enable_hr',
  'hr_scale',
  'hr_upscaler',
  'hr_second_pass_steps',
  'hr_resize_x',
  'hr_resize_y',
  'hr_sampler_name',
  'hr_scheduler',
  'hr_prompt',
  'hr_negative_prompt',
  'hr_cfg',
] as const;

export interface ResolvedImageFields {
  inpaint?: InpaintParams;
  hires?: HiresParams;
  tiling?: boolean;
  initial_noise_multiplier?: number;
  inpainting_mask_weight?: number;
  /** fields A1111 itself would not use for this kind of request (named in info.notes on /sdapi) */
  unused: string[];
}

/** Resolves the fields of `raw` (already shaped by imageFieldsShape) for a request of `ctx.kind`. */
export function resolveImageFields(f: ImageFields, ctx: ImageFieldsContext): ResolvedImageFields {
  const unused: string[] = [];
  const out: ResolvedImageFields = { unused };
  if (f.tiling) out.tiling = true;
  if (f.inpainting_mask_weight != null && f.inpainting_mask_weight !== 1) out.inpainting_mask_weight = f.inpainting_mask_weight;
  if (ctx.kind === 'img2img') {
    out.inpaint = resolveInpaint(f);
    if (f.initial_noise_multiplier != null && f.initial_noise_multiplier !== 1) out.initial_noise_multiplier = f.initial_noise_multiplier;
    for (const k of HIRES_FIELDS) {
      if (ctx.sent(k)) unused.push(k);
    }
  } else {
    if (f.enable_hr) out.hires = resolveHires(f, ctx);
    for (const k of INPAINT_FIELDS) {
      if (ctx.sent(k)) unused.push(k);
    }
  }
  return out;
}
