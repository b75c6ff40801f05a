// AUTOMATIC1111 web UI API bodies (StableDiffusionTxt2ImgProcessingAPI / Img2ImgProcessingAPI) -> GenerationParams,
// with the API's defaults; errors in FastAPI's 422 `{detail: [{loc, msg, type}]}` shape.
import { z } from 'zod';
import { ValidationError } from './errors';
import { resolveParams, type Catalog, type RequestLimits } from './schemas';
import { RANDN_SOURCES, type GenerationParams, type RandnSource } from './types';

const num = z.number().finite();
const ignoredFields = ['restore_faces', 'tiling', 'enable_hr', 'hr_scale',
  'hr_upscaler', 'hr_second_pass_steps', 'hr_resize_x', 'hr_resize_y', 'styles', 'save_images', 'do_not_save_samples', 'do_not_save_grid', 'eta',
  's_churn', 's_tmax', 's_tmin', 's_noise', 'script_name', 'script_args', 'mask', 'inpainting_fill', 'inpaint_full_res', 'mask_blur',
  'include_init_images', 'firstphase_width', 'firstphase_height', 'refiner_checkpoint', 'refiner_switch_at', 'infotext', 'comments', 'force_task_id'] as const;

const controlNetArg = z.object({
  enabled: z.boolean().optional(),
  image: z.union([z.string(), z.object({ image: z.string() }).passthrough()]).optional(),
  input_image: z.string().optional(),
  module: z.string().default('canny'),
  model: z.string().default('default'),
  weight: num.default(1),
  guidance_start: num.min(0).max(1).default(0),
  guidance_end: num.min(0).max(1).default(1),
  processor_res: z.number().int().default(512),
  threshold_a: num.default(100),
  threshold_b: num.default(200),
}).passthrough();

export const a1111Schema = z.object({
  prompt: z.string().max(100_000).default(''),
  negative_prompt: z.string().max(100_000).default(''),
  seed: z.number().int().min(-1).max(0xffffffff).default(-1),
  subseed: z.number().int().min(-1).max(0xffffffff).default(-1),
  subseed_strength: num.min(0).max(1).default(0),
  seed_resize_from_w: z.number().int().min(-1).max(16384).default(-1),
  seed_resize_from_h: z.number().int().min(-1).max(16384).default(-1),
  sampler_name: z.string().optional(),
  sampler_index: z.string().default('Euler'),
  scheduler: z.string().optional(),
  batch_size: z.number().int().min(1).default(1),
  n_iter: z.number().int().min(1).default(1),
  steps: z.number().int().min(1).default(50),
  cfg_scale: num.min(0).max(100).default(7),
  width: z.number().int().min(64).default(512),
  height: z.number().int().min(64).default(512),
  denoising_strength: num.gt(0).max(1).nullable().optional(),
  init_images: z.array(z.string()).optional(),
  resize_mode: z.number().int().min(0).max(3).default(0),
  override_settings: z.record(z.unknown()).default({}),
  override_settings_restore_afterwards: z.boolean().default(true),
  send_images: z.boolean().default(true),
  alwayson_scripts: z.record(z.unknown()).default({}),
}).passthrough();

export type A1111Request = z.infer<typeof a1111Schema>;

export interface A1111Detail { loc: (string | number)[]; msg: string; type: string }

export class A1111ValidationError extends ValidationError {
  constructor(readonly detail: A1111Detail[]) {
    super(detail.map((d) => `${d.loc.slice(1).join('.')}: ${d.msg}`).join('; '), String(detail[0]?.loc[1] ?? ''));
  }
}

/** "v1-5-pruned.safetensors [6ce0161689]" -> "v1-5-pruned" */
export function checkpointName(title: string): string {
  return title.replace(/\s*\[[0-9a-f]+\]\s*$/i, '').replace(/\.(safetensors|ckpt|onnx)$/i, '').trim();
}

/** A1111's own default random source (its `randn_source` option). */
export const A1111_DEFAULT_RANDN_SOURCE: RandnSource = 'GPU';

/** The A1111 settings (`/sdapi/v1/options` and `override_settings`) that change what a generation gives. */
export const a1111SettingsSchema = z.object({
  randn_source: z.enum(RANDN_SOURCES).optional(),
  eta_noise_seed_delta: z.number().int().min(0).max(0xffffffff).optional(),
});
export type A1111Settings = z.infer<typeof a1111SettingsSchema>;

/** Reads the generation settings out of options or override_settings; a bad value is a 422 under `loc`. */
export function readA1111Settings(values: Record<string, unknown>, loc: string[]): A1111Settings {
  const picked = Object.fromEntries(Object.keys(a1111SettingsSchema.shape).filter((k) => values[k] !== undefined && values[k] !== null).map((k) => [k, values[k]]));
  const parsed = a1111SettingsSchema.safeParse(picked);
  if (!parsed.success) throw new A1111ValidationError(parsed.error.issues.map((i) => ({ loc: [...loc, ...i.path], msg: i.message, type: 'value_error' })));
  return parsed.data;
}

export interface A1111Parsed {
  params: GenerationParams;
  request: A1111Request;
  ignored: string[];
}

export function parseA1111(kind: 'txt2img' | 'img2img', body: unknown, limits: RequestLimits, catalog: Catalog, userModel?: string, userSettings: A1111Settings = {}): A1111Parsed {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new A1111ValidationError([{ loc: ['body'], msg: 'the body must be a JSON object', type: 'type_error.dict' }]);
  const parsed = a1111Schema.safeParse(body);
  if (!parsed.success) {
    throw new A1111ValidationError(parsed.error.issues.map((i) => ({ loc: ['body', ...i.path], msg: i.message, type: `value_error.${i.code}` })));
  }
  const r = parsed.data;
  const ignored = ignoredFields.filter((f) => f in (body as object) && (body as Record<string, unknown>)[f] !== false && (body as Record<string, unknown>)[f] !== null);
  const override = r.override_settings.sd_model_checkpoint;
  const model = typeof override === 'string' ? checkpointName(override) : userModel;
  const settings = { ...userSettings, ...readA1111Settings(r.override_settings, ['body', 'override_settings']) };
  const units = ((r.alwayson_scripts.controlnet ?? r.alwayson_scripts.ControlNet) as { args?: unknown[] } | undefined)?.args ?? [];
  const controlnet = units.map((u, i) => {
    const unit = controlNetArg.safeParse(u);
    if (!unit.success) throw new A1111ValidationError(unit.error.issues.map((x) => ({ loc: ['body', 'alwayson_scripts', 'controlnet', 'args', i, ...x.path], msg: x.message, type: 'value_error' })));
    const v = unit.data;
    if (v.enabled === false) return null;
    const image = typeof v.image === 'string' ? v.image : v.image?.image ?? v.input_image;
    if (!image) throw new A1111ValidationError([{ loc: ['body', 'alwayson_scripts', 'controlnet', 'args', i, 'image'], msg: 'a ControlNet unit needs image or input_image', type: 'value_error.missing' }]);
    const module: 'canny' | 'none' | null = v.module === 'canny' || v.module === 'none' ? v.module : null;
    if (!module) throw new A1111ValidationError([{ loc: ['body', 'alwayson_scripts', 'controlnet', 'args', i, 'module'], msg: `unknown ControlNet module "${v.module}"; available: canny, none`, type: 'value_error' }]);
    return { image, module, model: v.model, weight: v.weight, guidance_start: v.guidance_start, guidance_end: v.guidance_end, processor_res: v.processor_res, threshold_a: v.threshold_a, threshold_b: v.threshold_b };
  }).filter((u): u is NonNullable<typeof u> => u !== null);
  if (kind === 'img2img' && !(r.init_images && r.init_images.length > 0)) {
    throw new A1111ValidationError([{ loc: ['body', 'init_images'], msg: 'img2img needs at least one init image', type: 'value_error.missing' }]);
  }
  try {
    const params = resolveParams({
      kind, model, prompt: r.prompt, negative_prompt: r.negative_prompt, sampler: r.sampler_name ?? r.sampler_index, scheduler: r.scheduler ?? 'Automatic',
      steps: r.steps, cfg_scale: r.cfg_scale, width: r.width, height: r.height, seed: r.seed, batch_size: r.batch_size, n_iter: r.n_iter,
      denoising_strength: r.denoising_strength ?? 0.75, init_image: kind === 'img2img' ? r.init_images![0] : undefined, resize_mode: Math.min(r.resize_mode, 2),
      loras: [], controlnet,
      randn_source: settings.randn_source ?? A1111_DEFAULT_RANDN_SOURCE, eta_noise_seed_delta: settings.eta_noise_seed_delta ?? 0,
      subseed: r.subseed, subseed_strength: r.subseed_strength, seed_resize_from_w: r.seed_resize_from_w, seed_resize_from_h: r.seed_resize_from_h,
    }, limits, catalog);
    return { params, request: r, ignored };
  } catch (e) {
    if (e instanceof ValidationError || (e as { status?: number }).status === 422) {
      const field = (e as ValidationError).field ?? 'body';
      throw new A1111ValidationError([{ loc: ['body', field], msg: (e as Error).message, type: 'value_error' }]);
    }
    throw e;
  }
}

export function a1111Info(p: GenerationParams, r: A1111Request, seeds: number[], infotexts: string[], ignored: string[]) {
  return {
    prompt: p.prompt, all_prompts: seeds.map(() => p.prompt), negative_prompt: p.negative_prompt, all_negative_prompts: seeds.map(() => p.negative_prompt),
    seed: p.seed, all_seeds: seeds, subseed: p.subseed ?? -1, all_subseeds: seeds.map((_, k) => (p.subseed ?? -1) === -1 ? -1 : ((p.subseed ?? 0) + k) % 2 ** 32), subseed_strength: p.subseed_strength ?? 0,
    width: p.width, height: p.height, sampler_name: p.sampler, scheduler: p.scheduler, cfg_scale: p.cfg_scale, steps: p.steps,
    batch_size: p.batch_size, n_iter: p.n_iter, restore_faces: false, face_restoration_model: null, sd_model_name: p.model, sd_model_hash: null,
    sd_vae_name: null, sd_vae_hash: null, seed_resize_from_w: p.seed_resize_from_w ?? -1, seed_resize_from_h: p.seed_resize_from_h ?? -1, denoising_strength: p.kind === 'img2img' ? p.denoising_strength : null,
    extra_generation_params: ignored.length ? { 'Ignored fields': ignored.join(', ') } : {}, index_of_first_image: 0, infotexts, styles: [],
    job_timestamp: new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14), clip_skip: 1, is_using_inpainting_conditioning: false, version: 'sd-render-farm',
    ...(ignored.length ? { notes: `accepted and ignored: ${ignored.join(', ')}` } : {}),
    send_images: r.send_images,
  };
}
