// Hires fix, as A1111's StableDiffusionProcessingTxt2Img.sample_hr_pass: the first pass's latent is upscaled (a latent
// mode, torch interpolate) or decoded, upscaled in pixels and encoded again; cropped when hr_resize_x/y ask for another
// aspect ratio; then an img2img pass at the new size with its own sampler, steps, prompts and CFG, starting from fresh
// noise of the same seed. Progress counts both passes.
import { hiresTarget, LATENT_UPSCALE_MODES, type GenerationParams, type HiresParams } from '@farm/core';
import { getSampler, type SchedulerConfig, type SamplerSpec } from '../schedulers';
import { resample } from '../upscale/resample';
import { resizeWithUpscaler, type ModelLookup } from '../upscale/pixel-upscale';
import { denoise, type DenoiseOptions, type Row } from './denoise';
import type { RowConditioning } from './conditioning';
import { inpaintingConditioning, type EncodeTensor } from './item-inputs';

export interface HiresContext {
  params(itemId: string): GenerationParams;
  /** the image's noise at the hires latent shape: a fresh draw for its seed, as A1111's new ImageRNG */
  noise(row: Row, shape: [number, number, number]): { first: Float32Array; stream: Row['rng'] };
  /** conditioning for the hires prompts (prompt editing scheduled over `steps`) */
  /** `params`: the item's own settings (its clip skip) */
  encodePrompts(prompt: string, negative: string, steps: number, params: GenerationParams): Promise<RowConditioning>;
  /** scaled latent [4, h, w] -> [3, 8h, 8w] in ~[-1, 1] */
  decode(latent: Float32Array, h: number, w: number): Promise<Float32Array>;
  encodeTensor: EncodeTensor;
  upscalerModel: ModelLookup;
  channels: number;
  scheduler: SchedulerConfig;
  denoise: Omit<DenoiseOptions, 'latentDims'>;
  onStep?(step: number, steps: number): void;
  /** steps the first pass reports */
  firstSteps: number;
}

export function hiresSpec(p: GenerationParams): SamplerSpec {
  const h = p.hires!;
  return getSampler(h.hr_sampler_name ?? p.sampler, h.hr_scheduler ?? p.scheduler);
}

function hiresRun(p: GenerationParams, scheduler: SchedulerConfig) {
  const h = p.hires!;
  return hiresSpec(p).create({
    config: scheduler,
    steps: h.hr_second_pass_steps || p.steps,
    strength: h.denoising_strength,
    discretization: p.discretization ?? 'diffusers',
  });
}

/** Steps the hires pass will run (img2img: reduced by its denoising strength). */
export function hiresSteps(p: GenerationParams, scheduler: SchedulerConfig): number {
  return hiresRun(p, scheduler).steps;
}

/** A1111's extra generation parameters for a hires image. */
export function hiresInfotext(p: GenerationParams): Record<string, string | number> {
  const h = p.hires!;
  const out: Record<string, string | number> = { 'Denoising strength': h.denoising_strength };
  if (h.hr_resize_x === 0 && h.hr_resize_y === 0) out['Hires upscale'] = h.hr_scale;
  else out['Hires resize'] = `${h.hr_resize_x}x${h.hr_resize_y}`;
  if (h.hr_second_pass_steps) out['Hires steps'] = h.hr_second_pass_steps;
  if (h.hr_upscaler_given) out['Hires upscaler'] = h.hr_upscaler;
  if (h.hr_sampler_name && h.hr_sampler_name !== p.sampler) out['Hires sampler'] = h.hr_sampler_name;
  if (h.hr_scheduler && h.hr_scheduler !== p.scheduler) out['Hires schedule type'] = h.hr_scheduler;
  if (h.hr_prompt && h.hr_prompt !== p.prompt) out['Hires prompt'] = h.hr_prompt;
  if (h.hr_negative_prompt && h.hr_negative_prompt !== p.negative_prompt) out['Hires negative prompt'] = h.hr_negative_prompt;
  if (h.hr_cfg !== undefined && h.hr_cfg !== p.cfg_scale) out['Hires CFG Scale'] = h.hr_cfg;
  return out;
}

/** [3, H, W] in [-1, 1] -> RGB bytes, truncated as A1111's astype(np.uint8) does before a pixel upscaler. */
function toBytes(chw: Float32Array, width: number, height: number): Buffer {
  const plane = width * height;
  const out = Buffer.alloc(plane * 3);
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) out[i * 3 + c] = Math.trunc(Math.min(1, Math.max(0, (chw[c * plane + i] + 1) / 2)) * 255);
  return out;
}

function fromBytes(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = (rgb[i * 3 + c] / 255) * 2 - 1;
  return out;
}

/** A1111's truncation: ty // 2 rows off the top, (ty + 1) // 2 off the bottom (columns likewise), each channel. */
function crop(latent: Float32Array, channels: number, h: number, w: number, ty: number, tx: number): Float32Array {
  const [y0, x0] = [Math.floor(ty / 2), Math.floor(tx / 2)];
  const [nh, nw] = [h - ty, w - tx];
  const out = new Float32Array(channels * nh * nw);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < nh; y++) out.set(latent.subarray((c * h + y0 + y) * w + x0, (c * h + y0 + y) * w + x0 + nw), (c * nh + y) * nw);
  return out;
}

/** The upscaled start latent (and, for inpainting models, its conditioning) of one first-pass row. */
async function upscaled(
  x: Float32Array,
  p: GenerationParams,
  h: HiresParams,
  ctx: HiresContext,
): Promise<{ latent: Float32Array; concat?: Float32Array; height: number; width: number }> {
  const t = hiresTarget(p.width, p.height, h);
  const [lh, lw] = [p.height / 8, p.width / 8];
  const [th, tw] = [Math.floor(t.toY / 8), Math.floor(t.toX / 8)];
  const mode = LATENT_UPSCALE_MODES[h.hr_upscaler];
  let latent: Float32Array;
  let pixels: Float32Array | null = null;
  if (mode) {
    latent = resample(x, 4, lh, lw, th, tw, mode.mode, mode.antialias);
    if (ctx.channels === 9 && (p.inpainting_mask_weight ?? 1) < 1) pixels = await ctx.decode(latent, th, tw);
  } else {
    const low = toBytes(await ctx.decode(x, lh, lw), p.width, p.height);
    const big = await resizeWithUpscaler({ data: low, width: p.width, height: p.height }, t.toX, t.toY, h.hr_upscaler, ctx.upscalerModel);
    // the VAE keeps whole 8-pixel blocks: the part past a multiple of 8 is dropped, as the encoder's strides drop it
    const cropped = Buffer.alloc(tw * 8 * th * 8 * 3);
    for (let y = 0; y < th * 8; y++) big.data.copy(cropped, y * tw * 8 * 3, y * big.width * 3, (y * big.width + tw * 8) * 3);
    pixels = fromBytes(cropped, tw * 8, th * 8);
    latent = await ctx.encodeTensor(pixels, tw * 8, th * 8);
  }
  let concat: Float32Array | undefined;
  if (ctx.channels === 9)
    concat = await inpaintingConditioning(
      ctx.encodeTensor,
      pixels ?? new Float32Array(3 * th * 8 * tw * 8),
      tw * 8,
      th * 8,
      null,
      pixels ? (p.inpainting_mask_weight ?? 1) : 1,
    );
  if (t.truncateX || t.truncateY) {
    latent = crop(latent, 4, th, tw, t.truncateY, t.truncateX);
    if (concat) concat = crop(concat, 5, th, tw, t.truncateY, t.truncateX);
  }
  return { latent, concat, height: th - t.truncateY, width: tw - t.truncateX };
}

/** Runs the hires pass for first-pass rows (all of one batch key); returns the surviving rows and the latent size. */
export async function hiresPass(rows: Row[], ctx: HiresContext): Promise<{ rows: Row[]; height: number; width: number }> {
  const next: Row[] = [];
  let dims = { height: 0, width: 0 };
  let total = ctx.firstSteps;
  const conds = new Map<string, RowConditioning>();
  for (const r of rows) {
    const p = ctx.params(r.itemId);
    const h = p.hires!;
    const up = await upscaled(r.x, p, h, ctx);
    dims = { height: up.height, width: up.width };
    const prompt = h.hr_prompt || p.prompt;
    const negative = h.hr_negative_prompt || p.negative_prompt;
    // A1111 encodes the hires prompts anew (their schedules run over the hires steps)
    let c = conds.get(r.itemId);
    if (!c) {
      c = await ctx.encodePrompts(prompt, negative, h.hr_second_pass_steps || p.steps, p);
      conds.set(r.itemId, c);
    }
    const { first, stream } = ctx.noise(r, [4, up.height, up.width]);
    const run = hiresRun(p, ctx.scheduler);
    total = ctx.firstSteps + run.steps;
    next.push({
      itemId: r.itemId,
      seed: r.seed,
      cfg: h.hr_cfg ?? p.cfg_scale,
      conditioning: c,
      calls: 0,
      run,
      rng: stream,
      x: run.initLatent(first, up.latent),
      ...(up.concat ? { concat: up.concat } : {}),
    });
  }
  if (next.length === 0) return { rows: [], ...dims };
  const survivors = await denoise(next, {
    ...ctx.denoise,
    latentDims: [4, dims.height, dims.width],
    onStep: (step) => ctx.onStep?.(ctx.firstSteps + step, total),
  });
  return { rows: survivors, ...dims };
}
