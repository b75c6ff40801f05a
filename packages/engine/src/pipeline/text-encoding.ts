// Weighted chunks -> text states with A1111 emphasis: each token's state is multiplied by its weight, then the chunk is
// rescaled so its mean equals the unweighted mean. Chunks are concatenated along the sequence axis. The same for CLIP
// and BERT text encoders: only the tokenizer and the encoder's extra inputs differ.
import * as ort from 'onnxruntime-node';
import type { PromptChunk } from '../tokenizer';
import { inputIdsTensor } from '../onnx/io';
import { applyFinalNorm } from './clip-skip';

export interface TextStates {
  /** [S, C] for one prompt, S = 77 * chunks */
  data: Float32Array;
  sequence: number;
  channels: number;
}

function weightChunk(states: Float32Array, weights: Float32Array, channels: number): void {
  let before = 0;
  for (let i = 0; i < states.length; i++) before += states[i];
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t];
    if (w !== 1) for (let c = 0; c < channels; c++) states[t * channels + c] *= w;
  }
  let after = 0;
  for (let i = 0; i < states.length; i++) after += states[i];
  if (after !== 0 && before !== 0) {
    const k = before / after;
    for (let i = 0; i < states.length; i++) states[i] *= k;
  }
}

/** input_ids, and for BERT exports that take them attention_mask (all ones: diffusers passes no mask to a BERT text
 * encoder, so padding is attended, as Taiyi was trained) and token_type_ids (all zeros, one segment). */
function textEncoderFeeds(session: ort.InferenceSession, ids: Int32Array, batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { input_ids: inputIdsTensor(session, ids, batch) };
  if (session.inputNames.includes('attention_mask'))
    feeds.attention_mask = inputIdsTensor(session, new Int32Array(ids.length).fill(1), batch, 'attention_mask');
  if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = inputIdsTensor(session, new Int32Array(ids.length), batch, 'token_type_ids');
  return feeds;
}

/** Encodes prompts, each already split into weighted chunks, in one text-encoder batch: [S, C] states per prompt. */
/** Which output to read instead of last_hidden_state, and the LayerNorm to apply to it first (clip skip). */
export interface TextLayer {
  output: string;
  norm: { weight: Float32Array; bias: Float32Array };
}

export async function encodeChunks(session: ort.InferenceSession, prompts: PromptChunk[][], layer?: TextLayer | null): Promise<TextStates[]> {
  const all = prompts.flat();
  if (all.length === 0) return [];
  const tokens = all[0].ids.length;
  const ids = new Int32Array(all.length * tokens);
  all.forEach((c, i) => ids.set(c.ids, i * tokens));
  const feeds = textEncoderFeeds(session, ids, all.length);
  const out = layer ? await session.run(feeds, [layer.output]) : await session.run(feeds);
  const hidden = (layer ? out[layer.output] : (out.last_hidden_state ?? out[session.outputNames[0]])) as ort.Tensor;
  const channels = hidden.dims[2] as number;
  const data = hidden.data as Float32Array;
  const perChunk = tokens * channels;
  let next = 0;
  return prompts.map((chunks) => {
    const states = new Float32Array(chunks.length * perChunk);
    chunks.forEach((c, i) => {
      const chunk = data.slice((next + i) * perChunk, (next + i + 1) * perChunk);
      if (layer) applyFinalNorm(chunk, layer.norm);
      weightChunk(chunk, c.weights, channels);
      states.set(chunk, i * perChunk);
    });
    next += chunks.length;
    return { data: states, sequence: chunks.length * tokens, channels };
  });
}
