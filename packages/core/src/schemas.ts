// The native POST /v1/jobs body, checked once at the edge. Output is a fully resolved GenerationParams.
import { randomInt } from 'node:crypto';
import { z } from 'zod/v4';
import { finiteNumber as finite } from './finite-number';
import { ValidationError, UnknownModelError, UnknownLoraError } from './errors';
import { extractLoraTags } from './lora-tags';
import { RANDN_SOURCES, type GenerationParams } from './types';
import { resolveSamplerName } from './samplers';
import { imageFieldsShape, resolveImageFields } from './image-fields';
import { checkPromptChunks, minPromptChunks } from './memory';

export interface RequestLimits {
  maxPixels: number;
  maxSteps: number;
  maxImagesPerRequest: number;
  /** most 75-token chunks of a prompt (MAX_PROMPT_CHUNKS); absent: no cap */
  maxPromptChunks?: number;
}

/** What the gateway knows about the farm's models and LoRAs (from worker heartbeats or MODELS_DIR). */
export interface Catalog {
  models: string[];
  loras: string[];
  defaultModel?: string;
  /** upscaler models installed on workers (UPSCALERS_DIR), besides the built-in None, Lanczos and Nearest */
  upscalers?: string[];
  /** model files in MODELS_DIR that are refused (pickles), by name, with the reason */
  refused?: Record<string, string>;
  /** throws UnknownSamplerError */
  checkSampler(sampler: string, scheduler: string): void;
  /** per model, the multiple its width and height must be (8 unless its UNet upsamples by fixed factors of 2) */
  sizeMultiples?: Record<string, number>;
  /** per model, how many hidden states its text encoder exports (layers + 1; 0: none, so clip skip 1 only) */
  hiddenStates?: Record<string, number>;
  /** throws a ValidationError naming the field when no live worker has the memory to run the request (gateway's admission) */
  checkMemory?(params: GenerationParams): void;
}

/** Refuses a clip skip the model's text encoder export cannot give (A1111's CLIP_stop_at_last_layers). */
export function checkClipSkip(model: string, clipSkip: number, hiddenStates: number): void {
  if (clipSkip <= 1) return;
  if (hiddenStates === 0) {
    throw new ValidationError(
      `model "${model}": clip skip ${clipSkip} needs the text encoder's hidden states, and its text_encoder/model.onnx has no hidden_states.* outputs (with text_model.final_layer_norm weights); export the text encoder with output_hidden_states=True (optimum-cli export onnx writes hidden_states.0 .. hidden_states.N), or use clip skip 1`,
      'clip_skip',
    );
  }
  if (clipSkip > hiddenStates)
    throw new ValidationError(`model "${model}": clip skip ${clipSkip} is more than its text encoder's ${hiddenStates - 1} layers + 1`, 'clip_skip');
}

/** Refuses sizes a model's UNet cannot run: with n fixed 2x upsamplers, sides must be multiples of 8 * 2^n. */
export function checkModelSize(model: string, width: number, height: number, multiple: number): void {
  for (const [field, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (v % multiple !== 0) {
      throw new ValidationError(
        `model "${model}" upsamples by fixed factors of 2, so ${field} must be a multiple of ${multiple}, got ${v}; export its UNet with each upsampling sized like its skip tensor (diffusers' upsample_size) to run any multiple of 8`,
        field,
      );
    }
  }
}

export const controlNetUnitSchema = z
  .object({
    image: z.string().min(1),
    module: z.enum(['canny', 'none']).default('canny'),
    model: z.string().default('default'),
    weight: finite.min(0).max(4).default(1),
    guidance_start: finite.min(0).max(1).default(0),
    guidance_end: finite.min(0).max(1).default(1),
    processor_res: z.number().int().min(64).max(2048).default(512),
    threshold_a: finite.min(0).max(255).default(100),
    threshold_b: finite.min(0).max(255).default(200),
  })
  .strict();

export const jobRequestSchema = z
  .object({
    kind: z.enum(['txt2img', 'img2img']).optional(),
    model: z.string().min(1).optional(),
    prompt: z.string().max(100_000),
    negative_prompt: z.string().max(100_000).default(''),
    sampler: z.string().default('Euler a'),
    scheduler: z.string().default('Automatic'),
    discretization: z.enum(['a1111', 'diffusers']).default('diffusers'),
    steps: z.number().int().min(1).default(20),
    cfg_scale: finite.min(0).max(100).default(7),
    width: z.number().int().min(64).default(512),
    height: z.number().int().min(64).default(512),
    seed: z.number().int().min(-1).max(0xffffffff).default(-1),
    randn_source: z.enum(RANDN_SOURCES).default('numpy'),
    subseed: z.number().int().min(-1).max(0xffffffff).default(-1),
    subseed_strength: finite.min(0).max(1).default(0),
    seed_resize_from_w: z.number().int().min(-1).max(16384).default(-1),
    seed_resize_from_h: z.number().int().min(-1).max(16384).default(-1),
    eta_noise_seed_delta: z.number().int().min(0).max(0xffffffff).default(0),
    clip_skip: z.number().int().min(1).max(12).default(1),
    batch_size: z.number().int().min(1).default(1),
    n_iter: z.number().int().min(1).default(1),
    live_preview_every: z.number().int().min(0).max(1000).default(0),
    denoising_strength: finite.gt(0).max(1).default(0.75),
    init_image: z.string().min(1).optional(),
    resize_mode: z.number().int().min(0).max(2).default(0),
    loras: z
      .array(z.object({ name: z.string().min(1), weight: finite.min(-10).max(10).default(1) }).strict())
      .max(32)
      .default([]),
    controlnet: z.array(controlNetUnitSchema).max(4).default([]),
    webhook: z.union([z.string(), z.object({ url: z.string(), events: z.array(z.enum(['start', 'progress', 'completed'])).optional() })]).optional(),
    priority: z.number().int().min(1).max(1000).optional(),
    idempotency_key: z.string().min(1).max(200).optional(),
    ...imageFieldsShape,
  })
  .strict();

export type JobRequest = z.infer<typeof jobRequestSchema>;

export function zodToValidationError(error: z.ZodError): ValidationError {
  const issue = error.issues[0];
  const field = issue.path.join('.');
  return new ValidationError(
    field ? `${field}: ${issue.message}` : issue.message,
    field || undefined,
    error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
  );
}

export function stripDataUrl(image: string): string {
  const comma = image.indexOf(',');
  return image.startsWith('data:') && comma > 0 ? image.slice(comma + 1) : image;
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

/** Checks everything that can be checked without running a model and resolves defaults and the random seed. */
export function resolveParams(
  req: Omit<JobRequest, 'webhook' | 'priority' | 'idempotency_key'>,
  limits: RequestLimits,
  catalog: Catalog,
  opts: ResolveOptions = {},
): GenerationParams {
  for (const [field, v] of [
    ['width', req.width],
    ['height', req.height],
  ] as const) {
    if (v % 8 !== 0) throw new ValidationError(`${field} must be a multiple of 8, got ${v}`, field);
  }
  if (req.width * req.height > limits.maxPixels)
    throw new ValidationError(`width x height = ${req.width * req.height} exceeds the maximum of ${limits.maxPixels} pixels`, 'width');
  if (req.steps > limits.maxSteps) throw new ValidationError(`steps must be at most ${limits.maxSteps}, got ${req.steps}`, 'steps');
  if (req.batch_size * req.n_iter > limits.maxImagesPerRequest)
    throw new ValidationError(
      `batch_size x n_iter = ${req.batch_size * req.n_iter} exceeds the maximum of ${limits.maxImagesPerRequest} images per request`,
      'batch_size',
    );
  if (limits.maxPromptChunks !== undefined) {
    checkPromptChunks('prompt', minPromptChunks(req.prompt), limits.maxPromptChunks);
    checkPromptChunks('negative_prompt', minPromptChunks(req.negative_prompt), limits.maxPromptChunks);
  }
  const model = req.model ?? catalog.defaultModel ?? catalog.models[0];
  if (!model || !catalog.models.includes(model)) throw new UnknownModelError(model ?? '(none)', catalog.models, model ? catalog.refused?.[model] : undefined);
  catalog.checkSampler(req.sampler, req.scheduler);
  checkModelSize(model, req.width, req.height, catalog.sizeMultiples?.[model] ?? 8);
  const hidden = catalog.hiddenStates?.[model];
  if (hidden !== undefined) checkClipSkip(model, req.clip_skip, hidden);
  const names = resolveSamplerName(req.sampler, req.scheduler);
  const kind = req.kind ?? (req.init_image ? 'img2img' : 'txt2img');
  const init = req.init_image ? stripDataUrl(req.init_image) : undefined;
  if (kind === 'img2img' && !init) throw new ValidationError('img2img needs init_image (base64 or a data: URL)', 'init_image');
  if (init && !BASE64.test(init)) throw new ValidationError('init_image is not base64', 'init_image');
  const tagLoras = extractLoraTags(req.prompt).loras.map((l) => l.name);
  for (const name of [...req.loras.map((l) => l.name), ...tagLoras]) {
    if (!catalog.loras.includes(name)) throw new UnknownLoraError(name, catalog.loras);
  }
  req.controlnet.forEach((u, i) => {
    if (!BASE64.test(stripDataUrl(u.image))) throw new ValidationError(`controlnet.${i}.image is not base64`, `controlnet.${i}.image`);
    if (u.guidance_end < u.guidance_start)
      throw new ValidationError(`controlnet.${i}: guidance_end must not be below guidance_start`, `controlnet.${i}.guidance_end`);
  });
  const image = resolveImageFields(req, {
    kind,
    width: req.width,
    height: req.height,
    steps: req.steps,
    maxPixels: limits.maxPixels,
    maxSteps: limits.maxSteps,
    upscalers: catalog.upscalers ?? [],
    denoisingStrength: req.denoising_strength,
    sent: opts.sent ?? (() => false),
    checkSampler: catalog.checkSampler,
  });
  if (image.tiling && (req.loras.some((l) => l.weight !== 0) || extractLoraTags(req.prompt).loras.some((l) => l.weight !== 0)))
    throw new ValidationError('tiling together with LoRAs is not supported by this farm yet', 'tiling');
  if (image.tiling && req.controlnet.length > 0) throw new ValidationError('tiling together with ControlNet is not supported by this farm yet', 'tiling');
  if (opts.unused) opts.unused.push(...image.unused);
  else if (image.unused.length > 0) throw new ValidationError(`${image.unused[0]} has no effect on ${kind} (${image.unused.join(', ')})`, image.unused[0]);
  if (req.mask && !BASE64.test(image.inpaint?.mask ?? '')) throw new ValidationError('mask is not base64', 'mask');
  const params: GenerationParams = {
    kind,
    model,
    prompt: req.prompt,
    negative_prompt: req.negative_prompt,
    sampler: names.sampler,
    scheduler: names.scheduler,
    discretization: req.discretization,
    steps: req.steps,
    cfg_scale: req.cfg_scale,
    width: req.width,
    height: req.height,
    seed: req.seed === -1 ? randomInt(0, 2 ** 32 - 1) : req.seed,
    randn_source: req.randn_source,
    subseed: req.subseed === -1 ? (req.subseed_strength > 0 ? randomInt(0, 2 ** 32 - 1) : -1) : req.subseed,
    subseed_strength: req.subseed_strength,
    seed_resize_from_w: req.seed_resize_from_w,
    seed_resize_from_h: req.seed_resize_from_h,
    eta_noise_seed_delta: req.eta_noise_seed_delta,
    clip_skip: req.clip_skip,
    batch_size: req.batch_size,
    n_iter: req.n_iter,
    denoising_strength: req.denoising_strength,
    ...(req.live_preview_every ? { live_preview_every: req.live_preview_every } : {}),
    ...(init ? { init_image: init } : {}),
    resize_mode: req.resize_mode,
    loras: req.loras.map((l) => ({ name: l.name, weight: l.weight })),
    controlnet: req.controlnet.map((u) => ({ ...u, image: stripDataUrl(u.image) })),
    ...(image.inpaint ? { inpaint: image.inpaint } : {}),
    ...(image.hires ? { hires: image.hires } : {}),
    ...(image.tiling ? { tiling: true } : {}),
    ...(image.initial_noise_multiplier !== undefined ? { initial_noise_multiplier: image.initial_noise_multiplier } : {}),
    ...(image.inpainting_mask_weight !== undefined ? { inpainting_mask_weight: image.inpainting_mask_weight } : {}),
  };
  catalog.checkMemory?.(params);
  return params;
}

export interface ResolveOptions {
  /** whether the request body named a field (fields that do nothing for its kind) */
  sent?: (field: string) => boolean;
  /** collects fields that do nothing for the request's kind; without it they are a ValidationError (native API) */
  unused?: string[];
}

export function parseJobRequest(body: unknown, limits: RequestLimits, catalog: Catalog) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('the request body must be a JSON object');
  const parsed = jobRequestSchema.safeParse(body);
  if (!parsed.success) throw zodToValidationError(parsed.error);
  const { webhook, priority, idempotency_key, ...rest } = parsed.data;
  const hook = parseWebhook(webhook);
  const sent = (k: string) => Object.hasOwn(body, k) && (body as Record<string, unknown>)[k] !== null;
  return { params: resolveParams(rest, limits, catalog, { sent }), webhook: hook, priority, idempotencyKey: idempotency_key };
}

/** A job's webhook field (a URL, or {url, events}) checked: an absolute http(s) URL, or a ValidationError on `webhook`. */
export function parseWebhook(webhook: string | { url: string; events?: ('start' | 'progress' | 'completed')[] } | undefined) {
  const hook = typeof webhook === 'string' ? { url: webhook } : webhook;
  if (hook) {
    let url: URL;
    try {
      url = new URL(hook.url);
    } catch {
      throw new ValidationError('webhook must be an absolute http(s) URL', 'webhook');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ValidationError('webhook must be an http(s) URL', 'webhook');
  }
  return hook;
}
