// AUTOMATIC1111 1.10 API bodies (StableDiffusionTxt2ImgProcessingAPI / ...Img2ImgProcessingAPI) -> GenerationParams.
// Every field A1111 accepts is accepted, with A1111's defaults; as in its pydantic models every field may be null
// (null means the default). Fields the farm cannot honour are refused (422 naming the field) only when their value
// would change the image; errors use FastAPI's 422 `{detail: [{loc, msg, type}]}` shape, or A1111's own
// HTTPException shape (`{error, detail, body, errors}`) where A1111 raises one.
import { ValidationError, FarmError, UnknownModelError, UnknownSamplerError } from './errors';
import { resolveParams, type Catalog, type RequestLimits } from './schemas';
import { SCHEDULE_TYPES } from './samplers';
import { RANDN_SOURCES, type ControlNetUnit, type GenerationParams, type RandnSource } from './types';
import { HIRES_FIELDS, INPAINT_FIELDS, imageFieldsShape } from './image-fields';
import { parseSdUpscaleScript } from './sd-upscale';
import { z } from 'zod/v4';

/** The AUTOMATIC1111 release whose API the farm implements, reported as `version` and in infotexts. */
export const A1111_VERSION = 'v1.10.1';

export type A1111Kind = 'txt2img' | 'img2img';
export type FieldType = 'str' | 'int' | 'float' | 'bool' | 'list' | 'dict' | 'any';

/** The fields of A1111 1.10's request models, their types and defaults (null = None). */
const COMMON: Record<string, [FieldType, unknown]> = {
  prompt: ['str', ''],
  negative_prompt: ['str', ''],
  styles: ['list', null],
  seed: ['int', -1],
  subseed: ['int', -1],
  subseed_strength: ['float', 0],
  seed_resize_from_h: ['int', -1],
  seed_resize_from_w: ['int', -1],
  sampler_name: ['str', null],
  scheduler: ['str', null],
  batch_size: ['int', 1],
  n_iter: ['int', 1],
  steps: ['int', 50],
  cfg_scale: ['float', 7.0],
  width: ['int', 512],
  height: ['int', 512],
  restore_faces: ['bool', null],
  tiling: ['bool', null],
  do_not_save_samples: ['bool', false],
  do_not_save_grid: ['bool', false],
  eta: ['float', null],
  denoising_strength: ['float', 0.75],
  s_min_uncond: ['float', null],
  s_churn: ['float', null],
  s_tmax: ['float', null],
  s_tmin: ['float', null],
  s_noise: ['float', null],
  override_settings: ['dict', null],
  override_settings_restore_afterwards: ['bool', true],
  refiner_checkpoint: ['str', null],
  refiner_switch_at: ['float', null],
  disable_extra_networks: ['bool', false],
  firstpass_image: ['str', null],
  comments: ['dict', null],
  force_task_id: ['str', null],
  sampler_index: ['str', 'Euler'],
  script_name: ['str', null],
  script_args: ['list', []],
  send_images: ['bool', true],
  save_images: ['bool', false],
  alwayson_scripts: ['dict', {}],
  infotext: ['str', null],
};
const TXT2IMG: Record<string, [FieldType, unknown]> = {
  enable_hr: ['bool', false],
  firstphase_width: ['int', 0],
  firstphase_height: ['int', 0],
  hr_scale: ['float', 2.0],
  hr_upscaler: ['str', null],
  hr_second_pass_steps: ['int', 0],
  hr_resize_x: ['int', 0],
  hr_resize_y: ['int', 0],
  hr_checkpoint_name: ['str', null],
  hr_sampler_name: ['str', null],
  hr_scheduler: ['str', null],
  hr_prompt: ['str', ''],
  hr_negative_prompt: ['str', ''],
  // Forge's hires CFG (A1111 1.10 has none and uses cfg_scale); null keeps cfg_scale
  hr_cfg: ['float', null],
};
const IMG2IMG: Record<string, [FieldType, unknown]> = {
  init_images: ['list', null],
  resize_mode: ['int', 0],
  image_cfg_scale: ['float', null],
  mask: ['str', null],
  mask_blur_x: ['int', 4],
  mask_blur_y: ['int', 4],
  mask_blur: ['int', null],
  mask_round: ['bool', true],
  inpainting_fill: ['int', 0],
  inpaint_full_res: ['bool', true],
  inpaint_full_res_padding: ['int', 0],
  inpainting_mask_invert: ['int', 0],
  initial_noise_multiplier: ['float', null],
  latent_mask: ['str', null],
  include_init_images: ['bool', false],
};

export function a1111Fields(kind: A1111Kind): Record<string, [FieldType, unknown]> {
  return { ...COMMON, ...(kind === 'txt2img' ? TXT2IMG : IMG2IMG) };
}

export interface A1111Detail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export class A1111ValidationError extends ValidationError {
  constructor(readonly detail: A1111Detail[]) {
    super(detail.map((d) => `${d.loc.slice(1).join('.')}: ${d.msg}`).join('; '), detail[0]?.loc.slice(1).join('.') || undefined);
  }
}

/** A1111's own HTTPException answers: `{error: "HTTPException", detail, body: "", errors: "<status>: <detail>"}`. */
export class A1111HttpError extends FarmError {
  constructor(
    status: number,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super('a1111_http_exception', status, detail);
  }
}

const invalid = (loc: (string | number)[], msg: string, type = 'value_error'): A1111ValidationError =>
  new A1111ValidationError([{ loc: ['body', ...loc], msg, type }]);

export const TYPE_MESSAGES: Record<FieldType, [string, string]> = {
  str: ['str type expected', 'type_error.str'],
  int: ['value is not a valid integer', 'type_error.integer'],
  float: ['value is not a valid float', 'type_error.float'],
  bool: ['value could not be parsed to a boolean', 'type_error.bool'],
  list: ['value is not a valid list', 'type_error.list'],
  dict: ['value is not a valid dict', 'type_error.dict'],
  any: ['', ''],
};

/** Pydantic v1's coercions for one field: numeric strings to numbers, 0/1 and "true"/"false" to booleans, numbers to strings. */
export function coerce(type: FieldType, v: unknown): { ok: true; value: unknown } | { ok: false } {
  switch (type) {
    case 'str':
      return typeof v === 'string' ? { ok: true, value: v } : typeof v === 'number' && Number.isFinite(v) ? { ok: true, value: String(v) } : { ok: false };
    case 'int': {
      const n = typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v;
      return typeof n === 'number' && Number.isInteger(n) ? { ok: true, value: n } : { ok: false };
    }
    case 'float': {
      const n = typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v) ? Number(v) : v;
      return typeof n === 'number' && Number.isFinite(n) ? { ok: true, value: n } : { ok: false };
    }
    case 'bool': {
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (v === 0 || v === 1) return { ok: true, value: v === 1 };
      if (typeof v === 'string' && /^(true|false|yes|no|on|off|1|0)$/i.test(v)) return { ok: true, value: /^(true|yes|on|1)$/i.test(v) };
      return { ok: false };
    }
    case 'list':
      return Array.isArray(v) ? { ok: true, value: v } : { ok: false };
    case 'dict':
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? { ok: true, value: v } : { ok: false };
    default:
      return { ok: true, value: v };
  }
}

export type A1111Request = Record<string, unknown> & {
  prompt: string;
  negative_prompt: string;
  styles: string[] | null;
  seed: number;
  sampler_name: string | null;
  sampler_index: string;
  scheduler: string | null;
  batch_size: number;
  n_iter: number;
  steps: number;
  cfg_scale: number;
  width: number;
  height: number;
  denoising_strength: number;
  override_settings: Record<string, unknown> | null;
  alwayson_scripts: Record<string, unknown>;
  send_images: boolean;
  script_name: string | null;
  init_images?: unknown[] | null;
  include_init_images?: boolean;
  resize_mode?: number;
  disable_extra_networks: boolean;
  force_task_id: string | null;
};

/** The body as A1111's pydantic model holds it: every field present, nulls kept, unknown fields dropped, values coerced. */
export function normalizeA1111(kind: A1111Kind, body: unknown): A1111Request {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid([], 'value is not a valid dict', 'type_error.dict');
  const fields = a1111Fields(kind);
  const out: Record<string, unknown> = {};
  const errors: A1111Detail[] = [];
  for (const [name, [type, def]] of Object.entries(fields)) {
    const given = (body as Record<string, unknown>)[name];
    if (given === undefined) {
      out[name] = structuredClone(def);
      continue;
    }
    if (given === null) {
      out[name] = null;
      continue;
    }
    const c = coerce(type, given);
    if (c.ok) out[name] = c.value;
    else errors.push({ loc: ['body', name], msg: TYPE_MESSAGES[type][0], type: TYPE_MESSAGES[type][1] });
  }
  if (errors.length) throw new A1111ValidationError(errors);
  return out as A1111Request;
}

/** The value a field has once null means its default. */
function value<T>(r: A1111Request, kind: A1111Kind, name: string): T {
  return (r[name] ?? a1111Fields(kind)[name]?.[1]) as T;
}

/** "v1-5-pruned.safetensors [6ce0161689]" -> "v1-5-pruned" */
export function checkpointName(title: string): string {
  return title
    .replace(/\s*\[[0-9a-f]+\]\s*$/i, '')
    .replace(/\.(safetensors|ckpt|onnx)$/i, '')
    .trim();
}

/** A1111 1.10's schedule types (sd_schedulers.py), as label and name (the list lives in samplers.ts). */
export const A1111_SCHEDULERS: [label: string, name: string][] = SCHEDULE_TYPES.map((s) => [s.label, s.name]);

/**
 * A1111's get_sampler_and_scheduler: a schedule-type suffix on the sampler name ("DPM++ 2M Karras") selects the
 * schedule; the scheduler field may be a label or a name. Unlike A1111 an unknown sampler is not silently replaced
 * by the default one: it is A1111's "Sampler not found" (400).
 */
export function resolveSampler(name: string, scheduler: string | null, catalog: Catalog): { sampler: string; scheduler: string } {
  let sampler = name.trim();
  let schedule = scheduler === null || scheduler === '' ? 'Automatic' : A1111_SCHEDULERS.find(([label, id]) => label === scheduler || id === scheduler)?.[0];
  if (schedule === undefined) throw invalid(['scheduler'], `unknown schedule type "${scheduler}"; A1111's are ${A1111_SCHEDULERS.map(([l]) => l).join(', ')}`);
  const known = (s: string) => {
    try {
      catalog.checkSampler(s, 'Automatic');
      return true;
    } catch {
      return false;
    }
  };
  if (!known(sampler)) {
    for (const [label, id] of A1111_SCHEDULERS) {
      const suffix = [label, id].find((s) => sampler.endsWith(` ${s}`));
      const stem = suffix ? sampler.slice(0, -(suffix.length + 1)) : '';
      if (stem && known(stem)) {
        sampler = stem;
        schedule = label;
        break;
      }
    }
  }
  if (!known(sampler)) {
    let available: string[] = [];
    try {
      catalog.checkSampler(sampler, 'Automatic');
    } catch (e) {
      available = ((e as FarmError).details as { available?: string[] } | undefined)?.available ?? [];
    }
    throw new A1111HttpError(400, 'Sampler not found', { available });
  }
  try {
    catalog.checkSampler(sampler, schedule);
  } catch (e) {
    throw invalid(['scheduler'], `schedule type "${schedule}" is not available for sampler "${sampler}" on this farm: ${(e as Error).message}`);
  }
  return { sampler, scheduler: schedule };
}

/** A prompt style from STYLES_FILE (A1111's styles.csv). */
export interface PromptStyle {
  name: string;
  prompt: string;
  negative_prompt: string;
}

/** A1111's merge_prompts: a style with {prompt} wraps the prompt, any other is appended with ", ". */
export function applyStyle(stylePrompt: string, prompt: string): string {
  if (stylePrompt.includes('{prompt}')) return stylePrompt.replaceAll('{prompt}', prompt);
  return [prompt.trim(), stylePrompt.trim()].filter(Boolean).join(', ');
}

/** What a request needs besides its body: the farm's catalog, limits, the user's options and styles. */
export interface A1111Context {
  limits: RequestLimits;
  catalog: Catalog;
  /** the caller's stored options with override_settings already merged in */
  options: Record<string, unknown>;
  styles: PromptStyle[];
  /** the VAE folders in VAE_DIR that sd_vae may name */
  vaes?: string[];
}

/** A1111's sd_vae: "Automatic" and "None" keep the model's VAE; a name (with or without a file extension) picks one of `vaes`. */
export function resolveVae(value: unknown, vaes: string[]): string | undefined | null {
  if (value === undefined || value === null || value === '' || value === 'Automatic' || value === 'None') return undefined;
  const name = String(value).replace(/\.(safetensors|ckpt|pt|onnx)$/i, '');
  return vaes.includes(name) ? name : null;
}

export interface A1111Parsed {
  params: GenerationParams;
  request: A1111Request;
  /** prompts after styles, before tokenizing (A1111's all_prompts[0] / all_negative_prompts[0]) */
  prompt: string;
  negative_prompt: string;
  styles: string[];
  /** the denoising strength A1111 reports in info (the request's, also on txt2img) */
  infoDenoising: number | null;
  /** what A1111 would say in its comments: LoRA and other extra networks that were not found */
  comments: string[];
}

/** Fields that change the image when they are not at their neutral value, and what the farm does about them. */
function refuseUnsupported(kind: A1111Kind, r: A1111Request, sampler: string): void {
  const v = (name: string) => r[name];
  const refuse = (field: string, why: string) => {
    throw invalid([field], why, 'value_error.unsupported');
  };
  if (v('restore_faces') === true)
    refuse('restore_faces', 'face restoration is not available on this farm (no face restorer is installed; see /sdapi/v1/face-restorers)');
  if (kind === 'txt2img' && v('enable_hr') === true) {
    if ((v('firstphase_width') as number) > 0 || (v('firstphase_height') as number) > 0)
      refuse('firstphase_width', 'the old hires fix (firstphase_width/height) is not supported; use hr_scale or hr_resize_x/hr_resize_y');
  }
  if (v('refiner_checkpoint') !== null && !['', 'None', 'none'].includes(String(v('refiner_checkpoint'))))
    refuse('refiner_checkpoint', 'a refiner checkpoint is not supported by this farm yet');
  if (typeof v('firstpass_image') === 'string' && v('firstpass_image') !== '') refuse('firstpass_image', 'firstpass_image is not supported by this farm yet');
  // the samplers whose k-diffusion function takes eta (A1111 passes eta_ancestral = 1), and DDIM's eta_ddim = 0
  const ancestral = / a$|SDE|^DPM (fast|adaptive)$/.test(sampler);
  if (typeof v('eta') === 'number') {
    const neutral = sampler === 'DDIM' || sampler === 'DDIM CFG++' ? 0 : ancestral ? 1 : null;
    if (neutral !== null && v('eta') !== neutral)
      refuse('eta', `eta ${v('eta')} is not supported by this farm yet (it runs ${sampler} with eta ${neutral}, A1111's default)`);
  }
  if (typeof v('s_churn') === 'number' && v('s_churn') !== 0) refuse('s_churn', 's_churn is not supported by this farm yet');
  if (typeof v('s_noise') === 'number' && v('s_noise') !== 1 && ancestral) refuse('s_noise', 's_noise other than 1 is not supported by this farm yet');
  if (typeof v('s_min_uncond') === 'number' && v('s_min_uncond') !== 0)
    refuse('s_min_uncond', 'negative guidance minimum sigma (s_min_uncond) is not supported by this farm yet');
  if (kind === 'img2img') {
    if (typeof v('latent_mask') === 'string' && v('latent_mask') !== '') refuse('latent_mask', 'latent_mask is not supported by this farm yet');
    if (v('resize_mode') === 3) refuse('resize_mode', 'resize_mode 3 (just resize, latent upscale) is not supported by this farm yet; use 0, 1 or 2');
  }
}

/**
 * Options that change the image and the value at which they do nothing the farm does not do. Any other value, stored
 * with POST /options or given in override_settings, is refused at generation (422 naming the option) until the farm
 * implements it. Options the farm applies (sd_model_checkpoint, samples_format, ...) are not listed here.
 */
export const A1111_IMAGE_OPTIONS: Record<string, unknown> = {
  face_restoration: false,
  eta_ancestral: 1,
  eta_ddim: 0,
  s_churn: 0,
  s_tmin: 0,
  s_tmax: 0,
  s_noise: 1,
  s_min_uncond: 0,
  k_sched_type: 'Automatic',
  sigma_min: 0,
  sigma_max: 0,
  rho: 0,
  always_discard_next_to_last_sigma: false,
  img2img_extra_noise: 0,
  img2img_color_correction: false,
  img2img_fix_steps: false,
  token_merging_ratio: 0,
  token_merging_ratio_img2img: 0,
  enable_emphasis: true,
  use_old_emphasis_implementation: false,
  pad_cond_uncond: false,
  enable_quantization: false,
  sd_unet: 'Automatic',
  sd_hypernetwork: 'None',
  sd_vae_encode_method: 'Full',
  sd_vae_decode_method: 'Full',
  use_old_karras_scheduler_sigmas: false,
  dont_fix_second_order_samplers_schedule: false,
  use_old_scheduling: false,
  // the samplers run with A1111's defaults of these
  beta_dist_alpha: 0.6,
  beta_dist_beta: 0.6,
  uni_pc_variant: 'bh1',
  uni_pc_skip_type: 'time_uniform',
  uni_pc_order: 3,
  uni_pc_lower_order_final: true,
  sgm_noise_multiplier: false,
  sd_noise_schedule: 'Default',
};

function refuseUnsupportedOptions(options: Record<string, unknown>, fromOverride: Set<string>, vaes: string[]): void {
  const loc = (k: string) => (fromOverride.has(k) ? ['override_settings', k] : ['options', k]);
  for (const [key, neutral] of Object.entries(A1111_IMAGE_OPTIONS)) {
    const v = options[key];
    if (v === undefined || v === null) continue;
    const same = typeof neutral === 'number' ? Number(v) === neutral : v === neutral;
    if (!same)
      throw invalid(
        loc(key),
        `option ${key} = ${JSON.stringify(v)} changes the image and is not supported by this farm yet (it runs with ${JSON.stringify(neutral)})`,
        'value_error.unsupported',
      );
  }
  const vae = options.sd_vae;
  if (resolveVae(vae, vaes) === null)
    throw invalid(loc('sd_vae'), `VAE "${String(vae)}" is not installed; available: ${['Automatic', 'None', ...vaes].join(', ')} (see /sdapi/v1/sd-vae)`);
}

/** A1111's own default random source (its `randn_source` option). */
export const A1111_DEFAULT_RANDN_SOURCE: RandnSource = 'GPU';

/** The A1111 settings (`/sdapi/v1/options` and `override_settings`) the farm applies to the noise. */
export const a1111SettingsSchema = z.object({
  randn_source: z.enum(RANDN_SOURCES).optional(),
  eta_noise_seed_delta: z.number().int().min(0).max(0xffffffff).optional(),
  CLIP_stop_at_last_layers: z.number().int().min(1).max(12).optional(),
});
export type A1111Settings = z.infer<typeof a1111SettingsSchema>;

/** A zod issue's path as A1111's `loc` (pydantic's: names and indexes). */
const locOf = (path: PropertyKey[]): (string | number)[] => path.map((k) => (typeof k === 'number' ? k : String(k)));

/** Reads the noise settings out of options or override_settings; a bad value is a 422 under `loc`. */
export function readA1111Settings(values: Record<string, unknown>, loc: (string | number)[]): A1111Settings {
  const picked = Object.fromEntries(
    Object.keys(a1111SettingsSchema.shape)
      .filter((k) => values[k] !== undefined && values[k] !== null)
      .map((k) => [k, values[k]]),
  );
  const parsed = a1111SettingsSchema.safeParse(picked);
  if (!parsed.success)
    throw new A1111ValidationError(parsed.error.issues.map((i) => ({ loc: [...loc, ...locOf(i.path)], msg: i.message, type: 'value_error' })));
  return parsed.data;
}

/** Steps between live previews from A1111's options (live_previews_enable, show_progress_every_n_steps; defaults true, 10); 0: none. */
export function livePreviewEvery(options: Record<string, unknown>): number {
  if (options.live_previews_enable === false) return 0;
  const every = Number(options.show_progress_every_n_steps ?? 10);
  return Number.isInteger(every) && every > 0 ? Math.min(every, 1000) : 0;
}

const EXTRA_NETWORK_TAG = /<(\w+):([^>]+)>/g;

/** Resolves a body into GenerationParams with A1111's semantics; throws A1111ValidationError or A1111HttpError. */
export function parseA1111(kind: A1111Kind, body: unknown, ctx: A1111Context): A1111Parsed {
  const r = normalizeA1111(kind, body);
  const get = <T>(name: string) => value<T>(r, kind, name);

  const sdUpscale = parseSdUpscaleScript(kind, r.script_name, get<unknown[]>('script_args'), ctx.catalog.upscalers ?? [], {
    width: get<number>('width'),
    height: get<number>('height'),
  });
  if (sdUpscale && typeof r.mask === 'string' && r.mask !== '')
    throw invalid(['mask'], 'SD upscale with an inpainting mask is not supported by this farm yet', 'value_error.unsupported');
  const scripts = get<Record<string, unknown>>('alwayson_scripts');
  for (const name of Object.keys(scripts)) {
    if (name.toLowerCase() !== 'controlnet') throw new A1111HttpError(422, `always on script ${name} not found`);
  }
  const override = get<Record<string, unknown> | null>('override_settings') ?? {};
  const options = { ...ctx.options, ...override };
  refuseUnsupportedOptions(options, new Set(Object.keys(override)), ctx.vaes ?? []);
  const settings = { ...readA1111Settings(ctx.options, ['body', 'options']), ...readA1111Settings(override, ['body', 'override_settings']) };

  const { sampler, scheduler } = resolveSampler(r.sampler_name || get<string>('sampler_index'), r.scheduler, ctx.catalog);
  refuseUnsupported(kind, r, sampler);

  const styleNames = (get<unknown[] | null>('styles') ?? []).map(String);
  let prompt = get<string>('prompt');
  let negative = get<string>('negative_prompt');
  for (const name of styleNames) {
    const style = ctx.styles.find((s) => s.name === name);
    if (!style) throw invalid(['styles'], `unknown style "${name}"; available: ${ctx.styles.map((s) => s.name).join(', ') || '(none; set STYLES_FILE)'}`);
    prompt = applyStyle(style.prompt, prompt);
    negative = applyStyle(style.negative_prompt, negative);
  }

  // Extra networks as A1111's extra_networks.parse_prompts: every <type:args> tag leaves the prompt; LoRAs that exist
  // are applied, the rest are named in the comments ("Network not found") and the image is made without them.
  const comments: string[] = [];
  const notFound: string[] = [];
  const promptForEngine = prompt.replace(EXTRA_NETWORK_TAG, (tag, type: string, args: string) => {
    if (r.disable_extra_networks) return '';
    const name = args.split(':')[0].trim();
    if (type === 'lora' && ctx.catalog.loras.includes(name)) return tag;
    if (type === 'lora' || type === 'lyco') notFound.push(name);
    else comments.push(`Extra network "${type}" is not available on this farm: ${tag}`);
    return '';
  });
  if (notFound.length) comments.push(`Network not found: ${notFound.join(', ')}`);

  const checkpoint = options.sd_model_checkpoint;
  const model = typeof checkpoint === 'string' && checkpoint !== '' ? checkpointName(checkpoint) : undefined;
  if (model !== undefined && !ctx.catalog.models.includes(model)) {
    throw invalid(
      Object.hasOwn(override, 'sd_model_checkpoint') ? ['override_settings', 'sd_model_checkpoint'] : ['options', 'sd_model_checkpoint'],
      new UnknownModelError(model, ctx.catalog.models, ctx.catalog.refused?.[model]).message,
    );
  }

  const denoising = get<number>('denoising_strength');
  if (denoising < 0 || denoising > 1) throw invalid(['denoising_strength'], 'ensure this value is between 0 and 1', 'value_error.number.not_in_range');
  let init: string | undefined;
  if (kind === 'img2img') {
    const images = r.init_images;
    if (!images || images.length === 0) throw new A1111HttpError(404, 'Init image not found');
    if (typeof images[0] !== 'string') throw invalid(['init_images', 0], 'str type expected', 'type_error.str');
    if (denoising === 0)
      throw invalid(
        ['denoising_strength'],
        'img2img with denoising_strength 0 returns the init image unchanged in A1111; this farm needs a value above 0',
        'value_error.unsupported',
      );
    init = images[0];
  }

  const script = scripts.controlnet ?? scripts.ControlNet ?? Object.entries(scripts).find(([k]) => k.toLowerCase() === 'controlnet')?.[1];
  if (script !== undefined && script !== null && (typeof script !== 'object' || Array.isArray(script)))
    throw invalid(['alwayson_scripts', 'controlnet'], 'value is not a valid dict', 'type_error.dict');
  const units = (script as { args?: unknown } | null | undefined)?.args ?? [];
  if (!Array.isArray(units)) throw invalid(['alwayson_scripts', 'controlnet', 'args'], 'value is not a valid list', 'type_error.list');
  const controlnet = parseControlNetUnits(units);

  const steps = get<number>('steps');
  for (const [field, min] of [
    ['steps', 1],
    ['batch_size', 1],
    ['n_iter', 1],
    ['width', 64],
    ['height', 64],
  ] as const) {
    if (get<number>(field) < min) throw invalid([field], `ensure this value is greater than or equal to ${min}`, 'value_error.number.not_ge');
  }
  const seed = get<number>('seed');
  const subseed = get<number>('subseed');
  for (const [field, v] of [
    ['seed', seed],
    ['subseed', subseed],
  ] as const) {
    if (v < -1 || v > 0xffffffff) throw invalid([field], `${field} must be -1 (random) or an integer from 0 to 4294967295`, 'value_error.number.not_in_range');
  }
  const subseedStrength = get<number>('subseed_strength');
  if (subseedStrength < 0 || subseedStrength > 1)
    throw invalid(['subseed_strength'], 'ensure this value is between 0 and 1', 'value_error.number.not_in_range');
  for (const field of ['seed_resize_from_w', 'seed_resize_from_h']) {
    const v = get<number>(field);
    if (v < -1 || v > 16384) throw invalid([field], 'ensure this value is between -1 and 16384', 'value_error.number.not_in_range');
  }
  const image = imageFields(kind, r, options, { sampler, scheduler, model: model ?? ctx.catalog.defaultModel ?? ctx.catalog.models[0] }, ctx.catalog);
  try {
    const params = resolveParams(
      {
        ...image,
        // A1111's process_images: a request's tiling of None takes the tiling option
        tiling: (r.tiling ?? options.tiling) === true,
        kind,
        model,
        prompt: promptForEngine,
        negative_prompt: negative,
        sampler,
        scheduler,
        discretization: 'a1111',
        steps,
        cfg_scale: get<number>('cfg_scale'),
        width: get<number>('width'),
        height: get<number>('height'),
        seed,
        batch_size: get<number>('batch_size'),
        n_iter: get<number>('n_iter'),
        denoising_strength: kind === 'img2img' ? denoising : 0.75,
        init_image: init,
        resize_mode: kind === 'img2img' ? get<number>('resize_mode') : 0,
        loras: [],
        controlnet,
        live_preview_every: livePreviewEvery(options),
        randn_source: settings.randn_source ?? A1111_DEFAULT_RANDN_SOURCE,
        eta_noise_seed_delta: settings.eta_noise_seed_delta ?? 0,
        clip_skip: settings.CLIP_stop_at_last_layers ?? 1,
        subseed,
        subseed_strength: subseedStrength,
        seed_resize_from_w: get<number>('seed_resize_from_w'),
        seed_resize_from_h: get<number>('seed_resize_from_h'),
      },
      ctx.limits,
      ctx.catalog,
      { unused: [] },
    );
    if (params.hires) params.hires.denoising_strength = denoising;
    if (sdUpscale) {
      if (params.controlnet.length > 0)
        throw invalid(['alwayson_scripts', 'controlnet'], 'SD upscale together with ControlNet is not supported by this farm yet', 'value_error.unsupported');
      params.sd_upscale = sdUpscale;
    }
    const vae = resolveVae(options.sd_vae, ctx.vaes ?? []);
    if (vae) params.vae = vae;
    return { params, request: r, prompt, negative_prompt: negative, styles: styleNames, infoDenoising: denoising, comments };
  } catch (e) {
    if (e instanceof UnknownSamplerError)
      throw new A1111HttpError(400, 'Sampler not found', { available: (e.details as { available?: string[] })?.available ?? [] });
    if (e instanceof FarmError && e.status === 422 && !(e instanceof A1111ValidationError)) {
      const field = (e as ValidationError).field ?? 'body';
      const clipSkipLoc = Object.hasOwn(override, 'CLIP_stop_at_last_layers')
        ? ['override_settings', 'CLIP_stop_at_last_layers']
        : ['options', 'CLIP_stop_at_last_layers'];
      const loc =
        field === 'clip_skip' ? clipSkipLoc : field === 'init_image' ? ['init_images', 0] : field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      throw invalid(loc, e.message);
    }
    throw e;
  }
}

/**
 * The inpainting / hires fix fields of this kind of request (and the options initial_noise_multiplier and
 * inpainting_mask_weight), checked by the shared field schema. The hires sampler resolves as the main one does
 * ("DPM++ 2M Karras" names its schedule); "Use same sampler/scheduler/checkpoint" mean the first pass's.
 */
function imageFields(
  kind: A1111Kind,
  r: A1111Request,
  options: Record<string, unknown>,
  first: { sampler: string; scheduler: string; model?: string },
  catalog: Catalog,
) {
  const names = kind === 'img2img' ? INPAINT_FIELDS : HIRES_FIELDS;
  const picked: Record<string, unknown> = Object.fromEntries(
    names.map((n) => [n, r[n]]).filter(([n, v]) => v !== null && v !== undefined && !(n === 'mask' && v === '')),
  );
  if (kind === 'img2img' && picked.initial_noise_multiplier === undefined && typeof options.initial_noise_multiplier === 'number')
    picked.initial_noise_multiplier = options.initial_noise_multiplier;
  if (options.inpainting_mask_weight !== undefined && options.inpainting_mask_weight !== null)
    picked.inpainting_mask_weight = Number(options.inpainting_mask_weight);
  if (kind === 'txt2img' && picked.enable_hr === true) {
    const checkpoint = r.hr_checkpoint_name;
    if (typeof checkpoint === 'string' && checkpoint !== '' && checkpoint !== 'Use same checkpoint' && checkpointName(checkpoint) !== first.model) {
      throw invalid(['hr_checkpoint_name'], 'a different checkpoint for the hires pass is not supported by this farm yet', 'value_error.unsupported');
    }
    const sameSampler = picked.hr_sampler_name === undefined || picked.hr_sampler_name === '' || picked.hr_sampler_name === 'Use same sampler';
    const sameScheduler = picked.hr_scheduler === undefined || picked.hr_scheduler === '' || picked.hr_scheduler === 'Use same scheduler';
    if (!sameSampler || !sameScheduler) {
      const name = sameSampler ? first.sampler : String(picked.hr_sampler_name);
      const resolved = resolveSampler(name, sameScheduler ? null : String(picked.hr_scheduler), catalog);
      const suffixed = resolved.sampler !== name.trim();
      picked.hr_sampler_name = resolved.sampler;
      picked.hr_scheduler = sameScheduler && !suffixed ? first.scheduler : resolved.scheduler;
    } else {
      delete picked.hr_sampler_name;
      delete picked.hr_scheduler;
    }
  }
  const parsed = z.object(imageFieldsShape).safeParse(picked);
  if (!parsed.success)
    throw new A1111ValidationError(
      parsed.error.issues.map((i) => ({
        loc: ['body', ...locOf(i.path)],
        msg: i.message,
        type: `value_error.${i.code}`,
      })),
    );
  return parsed.data;
}

function parseControlNetUnits(units: unknown[]): ControlNetUnit[] {
  const out: ControlNetUnit[] = [];
  units.forEach((u, i) => {
    const at = (field: string) => ['alwayson_scripts', 'controlnet', 'args', i, field];
    if (u === null || typeof u !== 'object' || Array.isArray(u))
      throw invalid(['alwayson_scripts', 'controlnet', 'args', i], 'value is not a valid dict', 'type_error.dict');
    const v = u as Record<string, unknown>;
    if (v.enabled === false) return;
    const num = (field: string, def: number, min = -Infinity, max = Infinity) => {
      const x = v[field] ?? def;
      if (typeof x !== 'number' || !Number.isFinite(x)) throw invalid(at(field), TYPE_MESSAGES.float[0], TYPE_MESSAGES.float[1]);
      if (x < min || x > max) throw invalid(at(field), `ensure this value is between ${min} and ${max}`, 'value_error.number.not_in_range');
      return x;
    };
    const raw = v.image ?? v.input_image;
    const image =
      typeof raw === 'string'
        ? raw
        : raw && typeof raw === 'object' && typeof (raw as { image?: unknown }).image === 'string'
          ? (raw as { image: string }).image
          : undefined;
    if (!image) throw invalid(at('image'), 'a ControlNet unit needs image or input_image', 'value_error.missing');
    const module = String(v.module ?? 'none');
    const threshold = (field: string, def: number) => {
      const x = num(field, def);
      return x < 0 ? def : x;
    };
    if (module !== 'canny' && module !== 'none') throw invalid(at('module'), `unknown ControlNet module "${module}"; available: canny, none`);
    out.push({
      image,
      module,
      model: String(v.model ?? 'default'),
      weight: num('weight', 1, 0, 4),
      guidance_start: num('guidance_start', 0, 0, 1),
      guidance_end: num('guidance_end', 1, 0, 1),
      processor_res: Math.round(num('processor_res', -1, -1, 4096)) <= 0 ? 512 : Math.round(num('processor_res', -1, -1, 4096)),
      threshold_a: threshold('threshold_a', 100),
      threshold_b: threshold('threshold_b', 200),
    });
  });
  return out;
}

/** A1111's image_grid layout: rows from n_rows (-1: about the square root, 0: the batch size), columns to fit. */
export function gridLayout(
  count: number,
  batchSize: number,
  o: { n_rows: number; grid_prevent_empty_spots: boolean } = { n_rows: -1, grid_prevent_empty_spots: false },
): { rows: number; cols: number } {
  let rows: number;
  if (o.n_rows > 0) rows = o.n_rows;
  else if (o.n_rows === 0) rows = batchSize;
  else if (o.grid_prevent_empty_spots) {
    rows = Math.floor(Math.sqrt(count));
    while (count % rows !== 0) rows -= 1;
  } else rows = Math.round(Math.sqrt(count));
  rows = Math.max(1, Math.min(rows, count));
  return { rows, cols: Math.ceil(count / rows) };
}
