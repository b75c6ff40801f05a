// Which cached sessions go to make room for a new one under a byte budget. Pure: the cache supplies its entries in
// least-recently-used order and releases what this returns.

/**
 * `base`: a model's own networks (model.onnx / model.gpu.onnx) — pinned: a model's LoRA sets and other variants never
 * push them out, only another model's base does when that model needs the room.
 * `lora`: a LoRA-merged network — rebuilt on demand, so the first to go.
 * `variant`: anything else rebuilt on demand (embedding text encoders, VAE overrides, upscalers).
 */
export type SessionKind = 'base' | 'lora' | 'variant';

export interface CacheEntryInfo {
  key: string;
  bytes: number;
  kind: SessionKind;
  /** the model folder a base or lora session belongs to ('' for none) */
  group: string;
  /** held by a running job: never evicted */
  busy: boolean;
}

export type EvictionPlan = { evict: string[] } | { refused: string };

const ORDER: Record<SessionKind, number> = { lora: 0, variant: 1, base: 2 };

/**
 * The entries to release (LoRA sessions first, then variants, then — for a base session only — other models' bases,
 * each kind least recently used first) so that `needed` more bytes fit in `budget`; or why they cannot.
 */
export function planEviction(entries: readonly CacheEntryInfo[], needed: { bytes: number; kind: SessionKind; group: string }, budget: number): EvictionPlan {
  let used = entries.reduce((s, e) => s + e.bytes, 0);
  if (used + needed.bytes <= budget) return { evict: [] };
  if (needed.bytes > budget) return { refused: `it needs ${needed.bytes} bytes, more than the whole budget of ${budget}` };
  const candidates = entries
    .map((e, lru) => ({ e, lru }))
    .filter(({ e }) => !e.busy && (e.kind !== 'base' || (needed.kind === 'base' && e.group !== needed.group)))
    .sort((a, b) => ORDER[a.e.kind] - ORDER[b.e.kind] || a.lru - b.lru);
  const evict: string[] = [];
  for (const { e } of candidates) {
    if (used + needed.bytes <= budget) break;
    evict.push(e.key);
    used -= e.bytes;
  }
  if (used + needed.bytes <= budget) return { evict };
  const pinned = entries.filter((e) => !evict.includes(e.key)).reduce((s, e) => s + e.bytes, 0);
  return { refused: `it needs ${needed.bytes} bytes and ${pinned} of the budget of ${budget} stay held (base models and sessions of the running job)` };
}
