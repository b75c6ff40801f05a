// A1111's generation parameters text ("infotext"), written into each PNG and parsed back by png-info: the builder
// follows processing.create_infotext, the parser infotext_utils.parse_generation_parameters.
import { A1111_VERSION, type GenerationParams } from '@farm/core';
import { parsePromptAttention } from '../tokenizer/prompt-attention';

export interface InfotextMeta {
  /** A1111's short model hash (first 10 hex digits of the sha256); omitted when unknown */
  modelHash?: string | null;
  /** "Version: ..." (A1111's add_version_to_infotext); defaults to the A1111 version the API implements */
  version?: string | null;
  /** add_model_hash_to_info / add_model_name_to_info (A1111 default true) */
  addModelHash?: boolean;
  addModelName?: boolean;
  /** the VAE that replaced the model's (A1111's "VAE hash" and "VAE") */
  vaeHash?: string | null;
  vaeName?: string | null;
}

/** Python's str() of a float: 7 -> "7.0", 0.75 -> "0.75". */
export function pyFloat(v: number): string {
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

/** A1111's infotext_utils.quote: values with a comma, colon or newline are JSON strings. */
export function quoteInfotextValue(v: string | number): string {
  const s = String(v);
  return /[,:\n]/.test(s) ? JSON.stringify(s) : s;
}

export function buildInfotext(p: GenerationParams, seed: number, extra: Record<string, string | number> = {}, meta: InfotextMeta = {}): string {
  const rng = rngFields(p, seed);
  const fields: Record<string, string | number | null | undefined> = {
    Steps: p.steps,
    Sampler: p.sampler,
    'Schedule type': p.scheduler,
    'CFG scale': pyFloat(p.cfg_scale),
    Seed: seed,
    Size: `${p.width}x${p.height}`,
    'Model hash': meta.addModelHash === false ? null : meta.modelHash,
    Model: meta.addModelName === false ? null : p.model,
    'VAE hash': meta.vaeHash,
    VAE: meta.vaeName,
    'Variation seed': rng['Variation seed'],
    'Variation seed strength': rng['Variation seed strength'],
    'Seed resize from': rng['Seed resize from'],
    ...(p.kind === 'img2img' ? { 'Denoising strength': pyFloat(p.denoising_strength) } : {}),
    'Clip skip': (p.clip_skip ?? 1) > 1 ? p.clip_skip : null,
    ENSD: rng.ENSD,
    Tiling: p.tiling ? 'True' : null,
    RNG: rng.RNG,
    ...(p.loras.length > 0 ? { 'Lora weights': p.loras.map((l) => `${l.name}: ${l.weight}`).join(', ') } : {}),
    ...Object.fromEntries(
      p.controlnet.map((u, i) => [
        `ControlNet ${i}`,
        `Module: ${u.module}, Model: ${u.model}, Weight: ${u.weight}, Guidance Start: ${u.guidance_start}, Guidance End: ${u.guidance_end}`,
      ]),
    ),
    ...extra,
    Version: meta.version === undefined ? A1111_VERSION : meta.version,
  };
  const line = Object.entries(fields)
    .filter((e): e is [string, string | number] => e[1] !== null && e[1] !== undefined)
    .map(([k, v]) => (k === v ? k : `${k}: ${quoteInfotextValue(v)}`))
    .join(', ');
  const negative = p.negative_prompt ? `\nNegative prompt: ${p.negative_prompt}` : '';
  return `${p.prompt}${negative}\n${line}`.trim();
}

/** A1111's seed fields: Variation seed (of this image), its strength, Seed resize from, ENSD, and RNG unless it is GPU. */
function rngFields(p: GenerationParams, seed: number): Record<string, string | number> {
  const k = (seed - p.seed + 2 ** 32) % 2 ** 32;
  const out: Record<string, string | number> = {};
  if ((p.subseed_strength ?? 0) > 0) {
    out['Variation seed'] = ((p.subseed ?? 0) + k) % 2 ** 32;
    out['Variation seed strength'] = p.subseed_strength!;
  }
  if ((p.seed_resize_from_w ?? 0) > 0 && (p.seed_resize_from_h ?? 0) > 0) out['Seed resize from'] = `${p.seed_resize_from_w}x${p.seed_resize_from_h}`;
  if (p.eta_noise_seed_delta) out.ENSD = p.eta_noise_seed_delta;
  const source = p.randn_source ?? 'numpy';
  if (source !== 'GPU') out.RNG = source;
  return out;
}

const PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;
const IMAGE_SIZE = /^(\d+)x(\d+)$/;

const unquote = (v: string): string => {
  if (v.length < 2 || v[0] !== '"' || v[v.length - 1] !== '"') return v;
  try {
    return JSON.parse(v) as string;
  } catch {
    return v;
  }
};

/** The infotext as written: prompt, negative prompt and the last line's `Key: value` pairs, values unquoted. */
function splitInfotext(text: string): { prompt: string; negative: string; fields: [string, string][] } {
  const lines = text.trim().split('\n');
  let last = lines.pop() ?? '';
  if ([...last.matchAll(PARAM)].length < 3) {
    lines.push(last);
    last = '';
  }
  let prompt = '';
  let negative = '';
  let doneWithPrompt = false;
  for (let line of lines) {
    line = line.trim();
    if (line.startsWith('Negative prompt:')) {
      doneWithPrompt = true;
      line = line.slice(16).trim();
    }
    if (doneWithPrompt) negative += (negative === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }
  const fields = [...last.matchAll(PARAM)].map((m): [string, string] => [m[1], m[2][0] === '"' && m[2][m[2].length - 1] === '"' ? unquote(m[2]) : m[2]]);
  return { prompt, negative, fields };
}

/**
 * A1111 1.10's parse_generation_parameters: `Prompt`, `Negative prompt`, every `Key: value` of the last line
 * (`WxH` values split into `Key-1`/`Key-2`), and the defaults A1111 fills in for keys an infotext leaves out.
 */
export function parseGenerationParameters(text: string): Record<string, string | number | boolean> {
  const { prompt, negative, fields } = splitInfotext(text);
  const res: Record<string, string | number | boolean> = {};
  for (const [key, v] of fields) {
    const size = IMAGE_SIZE.exec(v);
    if (size) {
      res[`${key}-1`] = size[1];
      res[`${key}-2`] = size[2];
    } else res[key] = v;
  }
  res.Prompt = prompt;
  res['Negative prompt'] = negative;
  const defaults: Record<string, string | number | boolean> = {
    'Clip skip': '1',
    'Hires resize-1': 0,
    'Hires resize-2': 0,
    'Hires sampler': 'Use same sampler',
    'Hires schedule type': 'Use same scheduler',
    'Hires checkpoint': 'Use same checkpoint',
    'Hires prompt': '',
    'Hires negative prompt': '',
    'Mask mode': 'Inpaint masked',
    'Masked content': 'original',
    'Inpaint area': 'Whole picture',
    'Masked area padding': 32,
    RNG: 'GPU',
    'Schedule type': 'Automatic',
    'Schedule max sigma': 0,
    'Schedule min sigma': 0,
    'Schedule rho': 0,
    'VAE Encoder': 'Full',
    'VAE Decoder': 'Full',
    'FP8 weight': 'Disable',
  };
  for (const [k, v] of Object.entries(defaults)) if (!(k in res)) res[k] = v;
  if (typeof res.Hypernet === 'string') res.Prompt += `<hypernet:${res.Hypernet}:${res['Hypernet strength'] ?? '1.0'}>`;
  if (!('Cache FP16 weight for LoRA' in res) && res['FP8 weight'] !== 'Disable') res['Cache FP16 weight for LoRA'] = false;
  const attention = [...parsePromptAttention(prompt), ...parsePromptAttention(negative)];
  if (!('Emphasis' in res) && attention.some(([t, w]) => w !== 1 && t !== 'BREAK')) res.Emphasis = 'Original';
  if (!('Refiner switch by sampling steps' in res)) res['Refiner switch by sampling steps'] = false;
  return res;
}

/** The infotext's own fields only (no A1111 defaults, sizes unsplit), prompts under `prompt` / `negative_prompt`. */
export function parseInfotext(text: string): Record<string, string> {
  const { prompt, negative, fields } = splitInfotext(text);
  return { prompt, negative_prompt: negative, ...Object.fromEntries(fields) };
}
