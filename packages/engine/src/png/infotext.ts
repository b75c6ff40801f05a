// A1111's generation parameters text ("infotext"), written into each PNG and parsed back by png-info.
import type { GenerationParams } from '@farm/core';

export function buildInfotext(p: GenerationParams, seed: number, extra: Record<string, string | number> = {}): string {
  const fields: Record<string, string | number> = {
    Steps: p.steps,
    Sampler: p.sampler,
    'Schedule type': p.scheduler,
    'CFG scale': p.cfg_scale,
    Seed: seed,
    Size: `${p.width}x${p.height}`,
    Model: p.model,
    ...(p.kind === 'img2img' ? { 'Denoising strength': p.denoising_strength } : {}),
    ...(p.loras.length > 0 ? { 'Lora weights': p.loras.map((l) => `${l.name}: ${l.weight}`).join(', ') } : {}),
    ...Object.fromEntries(p.controlnet.map((u, i) => [`ControlNet ${i}`, `Module: ${u.module}, Model: ${u.model}, Weight: ${u.weight}, Guidance Start: ${u.guidance_start}, Guidance End: ${u.guidance_end}`])),
    ...rngFields(p, seed),
    ...extra,
  };
  const quote = (v: string | number) => (typeof v === 'string' && /[,:\n"]/.test(v) ? JSON.stringify(v) : String(v));
  const line = Object.entries(fields).map(([k, v]) => `${k}: ${quote(v)}`).join(', ');
  const negative = p.negative_prompt ? `\nNegative prompt: ${p.negative_prompt}` : '';
  return `${p.prompt}${negative}\n${line}`;
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

/** Parses infotext back into { prompt, negative_prompt, ...fields } as A1111's parse_generation_parameters does. */
export function parseInfotext(text: string): Record<string, string> {
  const lines = text.trim().split('\n');
  let last = lines[lines.length - 1] ?? '';
  const fieldRe = /\s*([\w ]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;
  const fields: Record<string, string> = {};
  const looksLikeFields = [...last.matchAll(fieldRe)].length >= 3;
  if (!looksLikeFields) last = '';
  const body = looksLikeFields ? lines.slice(0, -1) : lines;
  const promptLines: string[] = [];
  const negativeLines: string[] = [];
  let inNegative = false;
  for (const l of body) {
    if (l.startsWith('Negative prompt:')) { inNegative = true; negativeLines.push(l.slice('Negative prompt:'.length).trim()); }
    else (inNegative ? negativeLines : promptLines).push(l);
  }
  for (const m of last.matchAll(fieldRe)) {
    if (!m[1]) continue;
    const raw = m[2].trim();
    fields[m[1].trim()] = raw.startsWith('"') ? JSON.parse(raw) : raw;
  }
  return { prompt: promptLines.join('\n'), negative_prompt: negativeLines.join('\n'), ...fields };
}
