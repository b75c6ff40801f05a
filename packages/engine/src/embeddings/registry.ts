// Textual inversion embeddings (A1111's embeddings/ folder): `<name>.safetensors` holding one tensor of shape
// [vectors, dim] or [dim] (A1111's `emb_params`, or any single key). Only .safetensors are read; .pt/.bin pickles
// are never opened. Files with several tensors (SDXL's clip_l/clip_g) or unreadable ones are listed as skipped.
// Pure file reading (no onnxruntime), so the gateway can list them too.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors } from '../lora/safetensors';

export interface EmbeddingInfo {
  name: string;
  path: string;
  /** vectors the name stands for */
  vectors: number;
  /** width of each vector (768 for SD1.5's CLIP) */
  dim: number;
  /** A1111's short hash: the first 12 hex digits of the file's sha256 */
  shorthash: string;
  /** A1111 metadata when the file carries it */
  step: number | null;
  sdCheckpoint: string | null;
  sdCheckpointName: string | null;
}

export interface SkippedEmbedding {
  name: string;
  path: string;
  reason: string;
}

export interface EmbeddingData extends EmbeddingInfo {
  data: Float32Array;
}

const cache = new Map<string, { key: string; value: EmbeddingData | SkippedEmbedding }>();

function load(path: string, name: string): EmbeddingData | SkippedEmbedding {
  const st = statSync(path);
  const key = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(path);
  if (hit?.key === key) return hit.value;
  let value: EmbeddingData | SkippedEmbedding;
  try {
    const bytes = readFileSync(path);
    const { tensors, metadata } = parseSafetensors(bytes);
    if (tensors.size !== 1) {
      value = { name, path, reason: `${tensors.size} tensors (${[...tensors.keys()].join(', ')}); an SD1.x embedding has one` };
    } else {
      const [tensor] = tensors.values();
      const shape = tensor.shape.length === 1 ? [1, tensor.shape[0]] : tensor.shape;
      if (shape.length !== 2 || shape[0] < 1 || shape[1] < 1) {
        value = { name, path, reason: `tensor of shape [${tensor.shape.join(', ')}]; expected [vectors, dim]` };
      } else {
        const num = (v?: string) => (v !== undefined && Number.isFinite(Number(v)) ? Number(v) : null);
        value = {
          name,
          path,
          vectors: shape[0],
          dim: shape[1],
          data: tensor.data,
          shorthash: createHash('sha256').update(bytes).digest('hex').slice(0, 12),
          step: num(metadata.step),
          sdCheckpoint: metadata.sd_checkpoint ?? null,
          sdCheckpointName: metadata.sd_checkpoint_name ?? null,
        };
      }
    }
  } catch (e) {
    value = { name, path, reason: `not a readable safetensors file: ${(e as Error).message}` };
  }
  cache.set(path, { key, value });
  return value;
}

/** The embeddings in `dir` (file name without .safetensors is the name), and the files that cannot be used. */
export function scanEmbeddings(dir?: string): { loaded: EmbeddingData[]; skipped: SkippedEmbedding[] } {
  const loaded: EmbeddingData[] = [];
  const skipped: SkippedEmbedding[] = [];
  if (!dir || !existsSync(dir)) return { loaded, skipped };
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.safetensors')) continue;
    const e = load(join(dir, file), file.slice(0, -'.safetensors'.length));
    if ('reason' in e) skipped.push(e);
    else loaded.push(e);
  }
  return { loaded, skipped };
}

/** A1111's /sdapi/v1/embeddings answer for one embedding. */
export function embeddingItem(e: EmbeddingInfo | SkippedEmbedding) {
  return 'reason' in e
    ? { step: null, sd_checkpoint: null, sd_checkpoint_name: null, shape: null, vectors: null }
    : { step: e.step, sd_checkpoint: e.sdCheckpoint, sd_checkpoint_name: e.sdCheckpointName, shape: e.dim, vectors: e.vectors };
}
