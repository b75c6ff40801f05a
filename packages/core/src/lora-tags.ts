// A1111 LoRA tags in prompts: <lora:name:0.8> or <lora:name> (weight 1); a third `:` part (A1111's separate UNet
// weight) is ignored. The farm's one parser of this syntax: tags are removed before tokenizing.
import type { LoraRef } from './types';

const TAG = /<lora:([^:>]+)(?::([^:>]*))?(?::[^>]*)?>/gi;

export function extractLoraTags(prompt: string): { prompt: string; loras: LoraRef[] } {
  const weights = new Map<string, number>();
  const stripped = prompt.replace(TAG, (_, name: string, weight?: string) => {
    const w = weight === undefined || weight.trim() === '' ? 1 : Number(weight);
    const key = name.trim();
    weights.set(key, (weights.get(key) ?? 0) + (Number.isFinite(w) ? w : 1));
    return '';
  });
  return { prompt: stripped.replace(/\s{2,}/g, ' ').trim(), loras: [...weights].map(([name, weight]) => ({ name, weight })) };
}

/** Adds tag LoRAs to listed ones (same name: weights add), sorted by name for a stable batching/cache key. */
export function mergeLoraRefs(a: LoraRef[], b: LoraRef[]): LoraRef[] {
  const m = new Map<string, number>();
  for (const l of [...a, ...b]) m.set(l.name, (m.get(l.name) ?? 0) + l.weight);
  return [...m].map(([name, weight]) => ({ name, weight })).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}
