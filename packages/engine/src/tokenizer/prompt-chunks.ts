// A1111's chunking: 75 tokens per chunk between start and end tokens, padded to 77 (CLIP pads with the end token,
// BERT with [PAD]; a tokenizer whose config sets another length gets chunks of that length minus the two specials).
// A chunk that overflows breaks at its last comma when that comma is within the last 20 tokens.
import type { PromptTokenizer } from './types';
import { parsePromptAttention } from './prompt-attention';

export const CHUNK_TOKENS = 75;
const chunkTokens = (t: PromptTokenizer) => t.maxLength - 2;
const COMMA_BACKTRACK = 20;

export interface PromptChunk {
  ids: Int32Array;
  weights: Float32Array;
}

function finishChunk(tokenizer: PromptTokenizer, ids: number[], weights: number[]): PromptChunk {
  const outIds = new Int32Array(tokenizer.maxLength).fill(tokenizer.padId);
  const outWeights = new Float32Array(tokenizer.maxLength).fill(1);
  outIds[0] = tokenizer.bosId;
  ids.forEach((id, i) => {
    outIds[i + 1] = id;
    outWeights[i + 1] = weights[i];
  });
  outIds[ids.length + 1] = tokenizer.eosId;
  return { ids: outIds, weights: outWeights };
}

/** A textual inversion embedding as the chunker sees it: the tokens of its name, and the ids of its vectors' rows. */
export interface EmbeddingTokens {
  name: string;
  nameIds: number[];
  rowIds: number[];
}

/** The embedding whose name's tokens start at `at` (the longest when several do), as A1111's find_embedding_at_position. */
function embeddingAt(ids: number[], at: number, embeddings: EmbeddingTokens[]): EmbeddingTokens | null {
  let best: EmbeddingTokens | null = null;
  for (const e of embeddings) {
    if (e.nameIds.length === 0 || (best && best.nameIds.length >= e.nameIds.length)) continue;
    if (e.nameIds.every((id, k) => ids[at + k] === id)) best = e;
  }
  return best;
}

/**
 * Weighted 75-token chunks of a prompt. With `embeddings`, a run of tokens spelling an embedding's name becomes its
 * vectors' row ids (one per vector, at the run's weight); an embedding that does not fit the current chunk starts
 * the next one, as A1111 does. Names of the embeddings met are added to `used`.
 */
export function tokenizeWeighted(tokenizer: PromptTokenizer, prompt: string, embeddings: EmbeddingTokens[] = [], used?: Set<string>): PromptChunk[] {
  const commaId = tokenizer.encode(',')[0];
  const perChunk = chunkTokens(tokenizer);
  const chunks: PromptChunk[] = [];
  let ids: number[] = [];
  let weights: number[] = [];
  let lastComma = -1;
  const flush = (force: boolean) => {
    if (!force && ids.length === 0) return;
    chunks.push(finishChunk(tokenizer, ids, weights));
    ids = [];
    weights = [];
    lastComma = -1;
  };
  for (const [text, weight] of parsePromptAttention(prompt)) {
    if (weight === -1) {
      flush(true);
      continue;
    }
    const segment = tokenizer.encode(text);
    for (let at = 0; at < segment.length; at++) {
      const emb = embeddings.length > 0 ? embeddingAt(segment, at, embeddings) : null;
      if (emb) {
        if (ids.length + emb.rowIds.length > perChunk) flush(true);
        for (const row of emb.rowIds) {
          ids.push(row);
          weights.push(weight);
        }
        used?.add(emb.name);
        at += emb.nameIds.length - 1;
        continue;
      }
      const id = segment[at];
      if (id === commaId) lastComma = ids.length;
      else if (ids.length === perChunk && lastComma >= 0 && ids.length - lastComma <= COMMA_BACKTRACK) {
        const carryIds = ids.slice(lastComma + 1);
        const carryWeights = weights.slice(lastComma + 1);
        ids = ids.slice(0, lastComma + 1);
        weights = weights.slice(0, lastComma + 1);
        flush(true);
        ids = carryIds;
        weights = carryWeights;
      }
      if (ids.length === perChunk) flush(true);
      ids.push(id);
      weights.push(weight);
    }
  }
  if (ids.length > 0 || chunks.length === 0) flush(true);
  return chunks;
}

/** Pads a prompt's chunks with empty chunks up to `count`, so prompts of one item share a sequence length. */
export function padChunks(tokenizer: PromptTokenizer, chunks: PromptChunk[], count: number): PromptChunk[] {
  return [...chunks, ...Array.from({ length: count - chunks.length }, () => finishChunk(tokenizer, [], []))];
}
