// Textual inversion the way LoRA merging works: the text encoder's token embedding table gets one new row per
// embedding vector, once per (model, LoRA set, embedding set); the chunker then writes those rows' ids where the
// prompt names an embedding. The Gather that reads the table takes the larger table as it is.
import { readFileSync } from 'node:fs';
import { ValidationError } from '@farm/core';
import { onnx } from '../onnx/onnx-proto';
import { readFloats, usesExternalData } from '../lora/onnx-weights';
import type { EmbeddingData } from './registry';

const TABLE_NAMES = ['text_model.embeddings.token_embedding.weight', 'embeddings.word_embeddings.weight'];

/** The token embedding table: by its torch name, else the initializer a Gather over input_ids reads. */
export function tokenEmbeddingTable(model: onnx.ModelProto): onnx.ITensorProto | null {
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name!, t]));
  for (const name of TABLE_NAMES) if (inits.has(name)) return inits.get(name)!;
  const gather = (model.graph?.node ?? []).find((n) => n.opType === 'Gather' && n.input?.[1] === 'input_ids' && inits.has(n.input?.[0] ?? ''));
  return gather ? inits.get(gather.input![0])! : null;
}

export interface TextEncoderWithRows {
  bytes: Uint8Array;
  /** rows of the original table: the first added row's id */
  firstRow: number;
  dim: number;
  /** the embeddings whose width matches the table (A1111 skips the others), in row order */
  applied: EmbeddingData[];
}

/** The text encoder (bytes or a model.onnx path) with the vectors of the embeddings of its width appended to its token table. */
export function addEmbeddingRows(model: Uint8Array | string, modelName: string, embeddings: EmbeddingData[]): TextEncoderWithRows {
  const proto = onnx.ModelProto.decode(typeof model === 'string' ? readFileSync(model) : model);
  if (usesExternalData(proto))
    throw new ValidationError(
      `model "${modelName}": textual inversion embeddings need a text encoder with its weights inside model.onnx (this one keeps them as external data)`,
      'prompt',
    );
  const table = tokenEmbeddingTable(proto);
  if (!table || table.dims?.length !== 2)
    throw new ValidationError(`model "${modelName}": no token embedding table found in text_encoder/model.onnx for textual inversion embeddings`, 'prompt');
  const rows = Number(table.dims[0]);
  const dim = Number(table.dims[1]);
  const old = readFloats(table);
  const applied = embeddings.filter((e) => e.dim === dim);
  const added = applied.reduce((n, e) => n + e.vectors, 0);
  const data = new Float32Array((rows + added) * dim);
  data.set(old);
  let at = rows * dim;
  for (const e of applied) {
    data.set(e.data, at);
    at += e.data.length;
  }
  table.dims = [rows + added, dim];
  table.rawData = new Uint8Array(data.buffer);
  table.floatData = [];
  return { bytes: onnx.ModelProto.encode(proto).finish(), firstRow: rows, dim, applied };
}
