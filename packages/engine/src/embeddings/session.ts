// The text encoder a batch runs when its prompts name textual inversion embeddings: the model's (or its LoRA-merged)
// text encoder with every usable embedding of EMBEDDINGS_DIR appended as token rows, built once per
// (model, LoRA set, embedding set) and kept in the session cache.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { LoraRef } from '@farm/core';
import type { ModelInfo } from '../models/model-registry';
import type { SessionCache } from '../onnx/session-cache';
import type { EmbeddingTokens, PromptTokenizer } from '../tokenizer';
import { buildMergedNetworks } from '../lora/merged-model';
import type { LoraInfo } from '../lora/registry';
import { scanEmbeddings, type EmbeddingData } from './registry';
import { addEmbeddingRows } from './text-encoder-rows';

export interface ActiveEmbeddings {
  session: ort.InferenceSession;
  tokens: EmbeddingTokens[];
  byName: Map<string, EmbeddingData>;
}

const built = new Map<string, { firstRow: number; applied: EmbeddingData[] }>();

export async function embeddingTextEncoder(ctx: {
  model: ModelInfo;
  loras: LoraRef[];
  availableLoras: () => LoraInfo[];
  dir?: string;
  tokenizer: PromptTokenizer;
  texts: string[];
  cache: SessionCache;
}): Promise<ActiveEmbeddings | null> {
  const { loaded } = scanEmbeddings(ctx.dir);
  const lower = ctx.texts.map((t) => t.toLowerCase());
  if (!loaded.some((e) => lower.some((t) => t.includes(e.name.toLowerCase())))) return null;
  const active = ctx.loras.filter((l) => l.weight !== 0);
  const loraKey = active.map((l) => `${l.name}:${l.weight}`).join(',');
  const set = createHash('sha256')
    .update(loaded.map((e) => `${e.name}:${e.shorthash}`).join(','))
    .digest('hex')
    .slice(0, 16);
  const key = `${ctx.model.path}|text_encoder|lora=${loraKey}|emb=${set}`;
  const session = await ctx.cache.get(key, () => {
    const path = join(ctx.model.path, 'text_encoder/model.onnx');
    const base = active.length > 0 ? (buildMergedNetworks(ctx.model.path, active, ctx.availableLoras()).bytes.text_encoder ?? path) : path;
    const rows = addEmbeddingRows(base, ctx.model.name, loaded);
    built.set(key, { firstRow: rows.firstRow, applied: rows.applied });
    return rows.bytes;
  });
  const { firstRow, applied } = built.get(key)!;
  const maxVectors = ctx.tokenizer.maxLength - 2;
  let next = firstRow;
  const tokens = applied
    .map((e) => {
      const rowIds = Array.from({ length: e.vectors }, (_, i) => next + i);
      next += e.vectors;
      return { name: e.name, nameIds: ctx.tokenizer.encode(e.name), rowIds };
    })
    .filter((t) => t.rowIds.length <= maxVectors);
  return { session, tokens, byName: new Map(applied.map((e) => [e.name, e])) };
}

/** A1111's infotext field for the embeddings an image used: TI hashes: "name: shorthash, ..." */
export function tiHashes(used: string[], active: ActiveEmbeddings | null): Record<string, string> {
  const parts = used
    .map((n) => active?.byName.get(n))
    .filter((e): e is EmbeddingData => e !== undefined)
    .map((e) => `${e.name}: ${e.shorthash}`);
  return parts.length > 0 ? { 'TI hashes': parts.join(', ') } : {};
}
