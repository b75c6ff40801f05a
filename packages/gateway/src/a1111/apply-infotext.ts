// A1111's `infotext` request field (Api.apply_infotext): the generation parameters of an infotext fill the request
// fields the body leaves unset, and the options it names go into override_settings unless set there already or equal
// to the caller's current value. Model and VAE are not switched (A1111's disable_weights_auto_swap, on by default).
import { parseGenerationParameters } from '@farm/engine/png';
import { A1111_OPTION_DEFAULTS } from './options-defaults';

const FIELDS: [label: string, field: string, only?: 'txt2img' | 'img2img'][] = [
  ['Prompt', 'prompt'],
  ['Negative prompt', 'negative_prompt'],
  ['Steps', 'steps'],
  ['Sampler', 'sampler_name'],
  ['Schedule type', 'scheduler'],
  ['CFG scale', 'cfg_scale'],
  ['Seed', 'seed'],
  ['Size-1', 'width'],
  ['Size-2', 'height'],
  ['Batch size', 'batch_size'],
  ['Variation seed', 'subseed'],
  ['Variation seed strength', 'subseed_strength'],
  ['Seed resize from-1', 'seed_resize_from_w'],
  ['Seed resize from-2', 'seed_resize_from_h'],
  ['Denoising strength', 'denoising_strength'],
  ['Hires upscale', 'hr_scale', 'txt2img'],
  ['Hires upscaler', 'hr_upscaler', 'txt2img'],
  ['Hires steps', 'hr_second_pass_steps', 'txt2img'],
  ['Hires resize-1', 'hr_resize_x', 'txt2img'],
  ['Hires resize-2', 'hr_resize_y', 'txt2img'],
  ['Mask blur', 'mask_blur', 'img2img'],
];
const OPTIONS: [label: string, option: string][] = [
  ['Clip skip', 'CLIP_stop_at_last_layers'],
  ['ENSD', 'eta_noise_seed_delta'],
  ['RNG', 'randn_source'],
];

export function applyInfotext(kind: 'txt2img' | 'img2img', body: Record<string, unknown>, options: Record<string, unknown>): Record<string, unknown> {
  if (typeof body.infotext !== 'string' || body.infotext === '') return body;
  const params = parseGenerationParameters(body.infotext);
  const out: Record<string, unknown> = { ...body };
  for (const [label, field, only] of FIELDS) {
    if (only && only !== kind) continue;
    if (!(field in body) && params[label] !== undefined && params[label] !== '') out[field] = params[label];
  }
  if (kind === 'txt2img' && !('enable_hr' in body) && 'Denoising strength' in params && ['Hires upscale', 'Hires upscaler'].some((k) => k in params))
    out.enable_hr = true;
  const override = { ...(body.override_settings && typeof body.override_settings === 'object' ? (body.override_settings as Record<string, unknown>) : {}) };
  for (const [label, option] of OPTIONS) {
    if (params[label] === undefined || option in override) continue;
    const current = options[option] ?? A1111_OPTION_DEFAULTS[option];
    const value = typeof current === 'number' ? Number(params[label]) : params[label];
    if (value !== current) override[option] = value;
  }
  if (Object.keys(override).length > 0) out.override_settings = override;
  return out;
}
