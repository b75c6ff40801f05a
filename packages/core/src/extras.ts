// A1111 1.10's extras (postprocessing upscale): the fields of its ExtrasBaseRequest with their types, defaults and
// bounds; the output size and infotext scripts/postprocessing_upscale.py gives; and the `extras` job each image
// becomes (one job per image, so each shows in history, reports progress and can be polled). Pure: pixels are the
// engine's. Face restoration (GFPGAN / CodeFormer) is not available on the farm, so a visibility above 0 is refused.
import { z } from 'zod/v4';
import { finiteNumber as finite } from './finite-number';
import { A1111ValidationError, TYPE_MESSAGES, coerce, type A1111Detail, type FieldType } from './a1111';
import { ValidationError } from './errors';
import { BUILTIN_UPSCALERS } from './upscalers';
import { parseWebhook } from './schemas';
import type { ExtrasParams, GenerationParams } from './types';

interface FieldSpec {
  type: FieldType;
  def: unknown;
  ge?: number;
  gt?: number;
  le?: number;
  literal?: number[];
}

/** ExtrasBaseRequest (modules/api/models.py): none of its fields is Optional, so null is refused as pydantic does. */
export const EXTRAS_FIELDS: Record<string, FieldSpec> = {
  resize_mode: { type: 'int', def: 0, literal: [0, 1] },
  show_extras_results: { type: 'bool', def: true },
  gfpgan_visibility: { type: 'float', def: 0, ge: 0, le: 1 },
  codeformer_visibility: { type: 'float', def: 0, ge: 0, le: 1 },
  codeformer_weight: { type: 'float', def: 0, ge: 0, le: 1 },
  upscaling_resize: { type: 'float', def: 2, gt: 0 },
  upscaling_resize_w: { type: 'int', def: 512, ge: 1 },
  upscaling_resize_h: { type: 'int', def: 512, ge: 1 },
  upscaling_crop: { type: 'bool', def: true },
  upscaler_1: { type: 'str', def: 'None' },
  upscaler_2: { type: 'str', def: 'None' },
  extras_upscaler_2_visibility: { type: 'float', def: 0, ge: 0, le: 1 },
  upscale_first: { type: 'bool', def: false },
};

/** The largest image an extras job may produce (width x height); intermediate model passes are held to it too. */
export const EXTRAS_MAX_OUTPUT_PIXELS = 4096 * 4096;

/** An extras request once checked: what the engine needs, and the request fields as A1111 echoes nothing of them. */
export interface ExtrasRequest {
  extras: ExtrasParams;
  /** base64 images (no data: prefix) with their names (extra-batch-images' FileData.name; '' for a single image) */
  images: { data: string; name: string }[];
}

type Issue = A1111Detail;

function checkField(name: string, spec: FieldSpec, given: unknown, issues: Issue[]): unknown {
  if (given === undefined) return spec.def;
  if (given === null) {
    issues.push({ loc: ['body', name], msg: 'none is not an allowed value', type: 'type_error.none.not_allowed' });
    return spec.def;
  }
  const c = coerce(spec.type, given);
  if (!c.ok) {
    issues.push({ loc: ['body', name], msg: TYPE_MESSAGES[spec.type][0], type: TYPE_MESSAGES[spec.type][1] });
    return spec.def;
  }
  const v = c.value as number;
  if (spec.literal && !spec.literal.includes(v))
    issues.push({ loc: ['body', name], msg: `unexpected value; permitted: ${spec.literal.join(', ')}`, type: 'value_error.const' });
  else if (spec.gt !== undefined && !(v > spec.gt))
    issues.push({ loc: ['body', name], msg: `ensure this value is greater than ${spec.gt}`, type: 'value_error.number.not_gt' });
  else if (spec.ge !== undefined && !(v >= spec.ge))
    issues.push({ loc: ['body', name], msg: `ensure this value is greater than or equal to ${spec.ge}`, type: 'value_error.number.not_ge' });
  else if (spec.le !== undefined && !(v <= spec.le))
    issues.push({ loc: ['body', name], msg: `ensure this value is less than or equal to ${spec.le}`, type: 'value_error.number.not_le' });
  return c.value;
}

const stripDataUrl = (s: string) => (s.startsWith('data:') && s.includes(',') ? s.slice(s.indexOf(',') + 1) : s);

/**
 * What the farm cannot do, or cannot find, for fields that would change the image: face restorers (A1111 would run
 * GFPGAN / CodeFormer, downloading them on first use) and upscaler names. As A1111's upscale script, upscaler_2 is
 * only looked at when upscaler_1 is not "None".
 */
function refuse(e: ExtrasParams, v: Record<string, unknown>, upscalers: string[]): Issue | null {
  const unsupported = (field: string, msg: string): Issue => ({ loc: ['body', field], msg, type: 'value_error.unsupported' });
  for (const field of ['gfpgan_visibility', 'codeformer_visibility']) {
    if ((v[field] as number) > 0)
      return unsupported(
        field,
        `${field} ${String(v[field])}: face restoration is not available on this farm (no face restorer is installed; see /sdapi/v1/face-restorers); send 0`,
      );
  }
  const known = [...BUILTIN_UPSCALERS, ...upscalers];
  if (e.upscaler_1 === 'None') return null;
  for (const field of ['upscaler_1', 'upscaler_2'] as const) {
    if (field === 'upscaler_2' && e.upscaler_2 === 'None') continue;
    if (!known.includes(e[field]))
      return {
        loc: ['body', field],
        msg: `could not find upscaler named ${e[field]}; available: ${known.join(', ')} (see /sdapi/v1/upscalers)`,
        type: 'value_error',
      };
  }
  return null;
}

function resolveFields(body: Record<string, unknown>, upscalers: string[], issues: Issue[]): ExtrasParams {
  const v: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(EXTRAS_FIELDS)) v[name] = checkField(name, spec, body[name], issues);
  const extras: ExtrasParams = {
    resize_mode: v.resize_mode as 0 | 1,
    upscaling_resize: v.upscaling_resize as number,
    upscaling_resize_w: v.upscaling_resize_w as number,
    upscaling_resize_h: v.upscaling_resize_h as number,
    upscaling_crop: v.upscaling_crop as boolean,
    upscaler_1: v.upscaler_1 as string,
    upscaler_2: v.upscaler_2 as string,
    extras_upscaler_2_visibility: v.extras_upscaler_2_visibility as number,
  };
  if (issues.length === 0) {
    const problem = refuse(extras, v, upscalers);
    if (problem) issues.push(problem);
  }
  return extras;
}

/** An /sdapi/v1/extra-single-image or extra-batch-images body; throws A1111ValidationError (FastAPI's 422 shape). */
export function parseA1111Extras(mode: 'single' | 'batch', body: unknown, upscalers: string[]): ExtrasRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new A1111ValidationError([{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }]);
  const b = body as Record<string, unknown>;
  const issues: Issue[] = [];
  const extras = resolveFields(b, upscalers, issues);
  const images: { data: string; name: string }[] = [];
  if (mode === 'single') {
    const image = checkField('image', { type: 'str', def: '' }, b.image, issues);
    images.push({ data: stripDataUrl(String(image)), name: '' });
  } else if (b.imageList === undefined) {
    issues.push({ loc: ['body', 'imageList'], msg: 'field required', type: 'value_error.missing' });
  } else if (!Array.isArray(b.imageList)) {
    issues.push({ loc: ['body', 'imageList'], msg: 'value is not a valid list', type: 'type_error.list' });
  } else {
    b.imageList.forEach((f: unknown, i) => {
      if (f === null || typeof f !== 'object' || Array.isArray(f))
        return issues.push({ loc: ['body', 'imageList', i], msg: 'value is not a valid dict', type: 'type_error.dict' });
      const file = f as Record<string, unknown>;
      for (const k of ['data', 'name']) {
        if (file[k] === undefined) issues.push({ loc: ['body', 'imageList', i, k], msg: 'field required', type: 'value_error.missing' });
        else if (!coerce('str', file[k]).ok) issues.push({ loc: ['body', 'imageList', i, k], msg: TYPE_MESSAGES.str[0], type: TYPE_MESSAGES.str[1] });
      }
      images.push({ data: stripDataUrl(String(file.data)), name: String(file.name) });
    });
  }
  if (issues.length) throw new A1111ValidationError(issues);
  return { extras, images };
}

/** The native POST /v1/jobs body of kind "extras": A1111's fields (same names, defaults and bounds) and one image. */
export const extrasJobRequestSchema = z
  .object({
    kind: z.literal('extras'),
    image: z.string().min(1),
    name: z.string().max(1000).optional(),
    model: z.string().min(1).optional(),
    resize_mode: z.union([z.literal(0), z.literal(1)]).default(0),
    show_extras_results: z.boolean().default(true),
    gfpgan_visibility: finite.min(0).max(1).default(0),
    codeformer_visibility: finite.min(0).max(1).default(0),
    codeformer_weight: finite.min(0).max(1).default(0),
    upscaling_resize: finite.gt(0).default(2),
    upscaling_resize_w: z.number().int().min(1).default(512),
    upscaling_resize_h: z.number().int().min(1).default(512),
    upscaling_crop: z.boolean().default(true),
    upscaler_1: z.string().default('None'),
    upscaler_2: z.string().default('None'),
    extras_upscaler_2_visibility: finite.min(0).max(1).default(0),
    upscale_first: z.boolean().default(false),
    webhook: z.union([z.string(), z.object({ url: z.string(), events: z.array(z.enum(['start', 'progress', 'completed'])).optional() })]).optional(),
    priority: z.number().int().min(1).max(1000).optional(),
    idempotency_key: z.string().min(1).max(200).optional(),
  })
  .strict();

/** Whether a native POST /v1/jobs body asks for an extras job. */
export function isExtrasJobBody(body: unknown): boolean {
  return body !== null && typeof body === 'object' && (body as Record<string, unknown>).kind === 'extras';
}

/** A native extras job body: its ExtrasRequest (one image), webhook, priority and idempotency key; ValidationError naming the field. */
export function parseExtrasJobRequest(body: unknown, upscalers: string[]) {
  const parsed = extrasJobRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join('.');
    throw new ValidationError(field ? `${field}: ${issue.message}` : issue.message, field || undefined);
  }
  const { webhook, priority, idempotency_key, image, name, model, ...fields } = parsed.data;
  const issues: Issue[] = [];
  const extras = resolveFields(fields, upscalers, issues);
  if (issues.length) throw new ValidationError(issues[0].msg, String(issues[0].loc[1]));
  return {
    request: { extras, images: [{ data: stripDataUrl(image), name: name ?? '' }] } as ExtrasRequest,
    model,
    webhook: parseWebhook(webhook),
    priority,
    idempotencyKey: idempotency_key,
  };
}

/**
 * The size the upscale script gives an image of w x h: A1111's Upscaler.upscale makes int(w * scale) // 8 * 8 (scale
 * from upscaling_resize, or max(target_w / w, target_h / h) in resize_mode 1), and "Crop to fit" pastes that, centred,
 * on a canvas of the target size. upscaler_1 "None" leaves the image as it is.
 */
export function extrasOutputSize(w: number, h: number, e: ExtrasParams): { width: number; height: number } {
  if (e.upscaler_1 === 'None') return { width: w, height: h };
  if (e.resize_mode === 1 && e.upscaling_crop) return { width: e.upscaling_resize_w, height: e.upscaling_resize_h };
  const scale = extrasScale(w, h, e);
  return { width: Math.floor((w * scale) / 8) * 8, height: Math.floor((h * scale) / 8) * 8 };
}

/** The factor the upscaler is asked for. */
export function extrasScale(w: number, h: number, e: ExtrasParams): number {
  return e.resize_mode === 1 ? Math.max(e.upscaling_resize_w / w, e.upscaling_resize_h / h) : e.upscaling_resize;
}

/** Refuses an image whose upscale would be empty or larger than `maxPixels` (ValidationError naming the field). */
export function checkExtrasSize(w: number, h: number, e: ExtrasParams, maxPixels = EXTRAS_MAX_OUTPUT_PIXELS): { width: number; height: number } {
  const field = e.resize_mode === 1 ? 'upscaling_resize_w' : 'upscaling_resize';
  const scale = extrasScale(w, h, e);
  const up = e.upscaler_1 === 'None' ? { width: w, height: h } : { width: Math.floor((w * scale) / 8) * 8, height: Math.floor((h * scale) / 8) * 8 };
  const out = extrasOutputSize(w, h, e);
  if (up.width < 1 || up.height < 1)
    throw new ValidationError(`upscaling ${w}x${h} by ${scale} gives an empty image (sizes are rounded down to multiples of 8)`, field);
  for (const s of [up, out]) {
    if (s.width * s.height > maxPixels)
      throw new ValidationError(`upscaling ${w}x${h} gives ${s.width}x${s.height}, more than the ${maxPixels} pixels an extras job may make`, field);
  }
  return out;
}

/** Python's str() of a float, as A1111 writes upscale_by into the infotext (2 -> "2.0"). */
function pyFloat(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** infotext_utils.quote: values with a comma, colon or newline are written as JSON strings. */
function quote(s: string): string {
  return /[,:\n]/.test(s) ? JSON.stringify(s) : s;
}

/** The "postprocessing" infotext A1111's upscale script writes (empty when upscaler_1 is "None": nothing ran). */
export function extrasInfotext(e: ExtrasParams): string {
  if (e.upscaler_1 === 'None') return '';
  const info: [string, string][] = [];
  if (e.resize_mode === 1) info.push(['Postprocess upscale to', `${e.upscaling_resize_w}x${e.upscaling_resize_h}`]);
  else info.push(['Postprocess upscale by', pyFloat(e.upscaling_resize)]);
  if (e.resize_mode === 1 && e.upscaling_crop) info.push(['Postprocess crop to', `${e.upscaling_resize_w}x${e.upscaling_resize_h}`]);
  info.push(['Postprocess upscaler', e.upscaler_1]);
  if (e.upscaler_2 !== 'None' && e.extras_upscaler_2_visibility > 0) info.push(['Postprocess upscaler 2', e.upscaler_2]);
  return info.map(([k, v]) => `${k}: ${quote(v)}`).join(', ');
}

/** ui_common.plaintext_to_html: lines HTML-escaped (html.escape, quotes too), joined by <br>, in one <p>. */
export function plaintextToHtml(text: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
  return `<p>${text.split('\n').map(esc).join('<br>\n')}</p>`;
}

/** The job of one image: kind `extras`, its output size as width x height; `model` only routes it to a live worker. */
export function extrasJobParams(
  image: { data: string; name: string },
  e: ExtrasParams,
  model: string,
  size: { width: number; height: number },
): GenerationParams {
  return {
    kind: 'extras',
    model,
    prompt: '',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 1,
    cfg_scale: 0,
    width: size.width,
    height: size.height,
    seed: 0,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0,
    resize_mode: 0,
    loras: [],
    controlnet: [],
    init_image: image.data,
    extras: { ...e, ...(image.name ? { name: image.name } : {}) },
  };
}
