// A1111's clip skip (CLIP_stop_at_last_layers = N): for N > 1 the text states are transformers' hidden_states[-N]
// (the output N - 1 layers before the last) passed through the text model's final LayerNorm. It needs a text encoder
// exported with its hidden states as outputs `hidden_states.0 .. hidden_states.L` (optimum's names; generated models
// have them); the LayerNorm's weights are read from the graph's `text_model.final_layer_norm.*` initializers.
import { dirname } from 'node:path';
import { loadModelProto, readFloats } from '../lora/onnx-weights';
import { perFileVersion } from '../models/per-file-version';

export interface ClipSkipSupport {
  /** number of hidden_states.* outputs (layers + 1), 0 when the export has none */
  hiddenStates: number;
  /** final LayerNorm weight and bias, when the graph has them */
  finalNorm: { weight: Float32Array; bias: Float32Array } | null;
}

/** What a text encoder file offers for clip skip, read once per file version. */
export const clipSkipSupport = perFileVersion((textEncoderPath: string): ClipSkipSupport => {
  const model = loadModelProto(textEncoderPath);
  const hiddenStates = (model.graph?.output ?? []).filter((o) => /^hidden_states\.\d+$/.test(o.name ?? '')).length;
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name!, t]));
  const w = inits.get('text_model.final_layer_norm.weight');
  const b = inits.get('text_model.final_layer_norm.bias');
  const dir = dirname(textEncoderPath);
  return { hiddenStates, finalNorm: w && b ? { weight: readFloats(w, dir), bias: readFloats(b, dir) } : null };
});

/** The hidden states clip skip can use: 0 unless the export has them and its final LayerNorm weights. */
export function usableHiddenStates(support: ClipSkipSupport): number {
  return support.finalNorm ? support.hiddenStates : 0;
}

/** The output that clip skip `n` reads (A1111's hidden_states[-n]); n = 1 is last_hidden_state. */
export function clipSkipOutput(support: ClipSkipSupport, n: number): string | null {
  return n <= 1 ? null : `hidden_states.${support.hiddenStates - n}`;
}

/** The final LayerNorm (eps 1e-5, as CLIPTextModel) over the last axis of [rows, dim] states, in place. */
export function applyFinalNorm(states: Float32Array, norm: { weight: Float32Array; bias: Float32Array }, eps = 1e-5): void {
  const dim = norm.weight.length;
  for (let r = 0; r < states.length; r += dim) {
    let mean = 0;
    for (let c = 0; c < dim; c++) mean += states[r + c];
    mean /= dim;
    let variance = 0;
    for (let c = 0; c < dim; c++) variance += (states[r + c] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / dim + eps);
    for (let c = 0; c < dim; c++) states[r + c] = (states[r + c] - mean) * inv * norm.weight[c] + norm.bias[c];
  }
}
