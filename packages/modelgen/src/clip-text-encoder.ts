// CLIP text transformer as in CLIPTextModel: token + position embeddings, pre-LN blocks with a causal mask and
// quick_gelu MLP, final LayerNorm. pooler_output is the state at the end-of-text token (the largest id).
// hidden_states.0 .. hidden_states.L are transformers' output_hidden_states (the embeddings, then each layer's output,
// before the final LayerNorm), named as optimum exports them: what A1111's clip skip reads.
import { onnx } from '@farm/engine/onnx-proto';
import { GraphBuilder, valueInfo } from './onnx-builder';
import { attention } from './layers';
import type { TextEncoderConfig } from './presets';

const F = onnx.TensorProto.DataType.FLOAT;
const I32 = onnx.TensorProto.DataType.INT32;

export function buildTextEncoder(g: GraphBuilder, c: TextEncoderConfig) {
  const dim = c.hiddenSize;
  const tokens = g.op(
    'Gather',
    [g.randomParam('text_model.embeddings.token_embedding.weight', [c.vocabSize, dim], 0.2), 'input_ids'],
    { axis: 0 },
    '/text_model/embeddings/token_embedding/Gather',
  );
  const positions = g.randomParam('text_model.embeddings.position_embedding.weight', [c.maxPositions, dim], 0.1);
  let h = g.op('Add', [tokens, positions], {}, '/text_model/embeddings/Add');
  const hidden = [h];
  const mask = g.param(
    'text_model.causal_attention_mask',
    [c.maxPositions, c.maxPositions],
    Float32Array.from({ length: c.maxPositions ** 2 }, (_, i) => (i % c.maxPositions > Math.floor(i / c.maxPositions) ? -1e9 : 0)),
  );
  const fusedMask = g.flavour.fusedAttention ? g.op('Unsqueeze', [mask, g.ints([0, 1])], {}, '/text_model/causal_mask/Unsqueeze') : undefined;
  for (let l = 0; l < c.layers; l++) {
    const path = `text_model.encoder.layers.${l}`;
    const scope = GraphBuilder.scope(path);
    const attn = attention(g, g.layerNorm(h, `${path}.layer_norm1`, dim), `${path}.self_attn`, dim, c.heads, {
      mask,
      fusedMask,
      names: ['q_proj', 'k_proj', 'v_proj', 'out_proj'],
      qkvBias: true,
    });
    h = g.op('Add', [h, attn], {}, `${scope}/Add`);
    const mlp = g.linear(
      g.quickGelu(g.linear(g.layerNorm(h, `${path}.layer_norm2`, dim), `${path}.mlp.fc1`, dim, c.intermediateSize), `${path}.mlp.activation_fn`),
      `${path}.mlp.fc2`,
      c.intermediateSize,
      dim,
      { gain: 0.5 },
    );
    h = g.op('Add', [h, mlp], {}, `${scope}/Add_1`);
    hidden.push(h);
  }
  const last = g.layerNorm(h, 'text_model.final_layer_norm', dim);
  hidden.forEach((value, i) => g.renameOutput(value, `hidden_states.${i}`));
  g.renameOutput(last, 'last_hidden_state');
  const eot = g.op('ArgMax', ['input_ids'], { axis: -1, keepdims: 1 }, '/text_model/ArgMax');
  g.renameOutput(g.op('GatherND', ['last_hidden_state', eot], { batch_dims: 1 }, '/text_model/GatherND'), 'pooler_output');
  return {
    inputs: [valueInfo('input_ids', I32, ['batch', 'sequence'])],
    outputs: [
      valueInfo('last_hidden_state', F, ['batch', 'sequence', dim]),
      valueInfo('pooler_output', F, ['batch', dim]),
      ...hidden.map((_, i) => valueInfo(`hidden_states.${i}`, F, ['batch', 'sequence', dim])),
    ],
  };
}
