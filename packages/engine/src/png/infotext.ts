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
    ...extra,
  };
  const quote = (v: string | number) => (typeof v === 'string' && /[,:\n"]/.test(v) ? JSON.stringify(v) : String(v));
  const line = Object.entries(fields).map(([k, v]) => `${k}: ${quote(v)}`).join(', ');
  const negative = p.negative_prompt ? `\nNegative prompt: ${p.negative_prompt}` : '';
  return `${p.prompt}${negative}\n${line}`;
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
