// BERT text encoder as transformers' BertModel (Taiyi's text encoder): word + position + token-type embeddings and a
// LayerNorm, post-LN encoder layers (self-attention with biases, residual, LayerNorm; GELU MLP, residual,
// LayerNorm), and the pooler (tanh(dense) on [CLS]). attention_mask is applied as (1 - mask) * float32 min.
import { onnx } from '@farm/engine/onnx-proto';
import { GraphBuilder, valueInfo } from './onnx-builder';
import { attention } from './layers';
import type { TextEncoderConfig } from './presets';

const F = onnx.TensorProto.DataType.FLOAT;
const I32 = onnx.TensorProto.DataType.INT32;
const EPS = 1e-12;
const FLOAT32_MIN = -3.4028234663852886e38;

export function buildBertTextEncoder(g: GraphBuilder, c: TextEncoderConfig) {
  const dim = c.hiddenSize;
  const words = g.op(
    'Gather',
    [g.randomParam('embeddings.word_embeddings.weight', [c.vocabSize, dim], 0.2), 'input_ids'],
    { axis: 0 },
    '/embeddings/word_embeddings/Gather',
  );
  const seqLen = g.op('Slice', [g.op('Shape', ['input_ids'], {}, '/embeddings/Shape'), g.ints([1]), g.ints([2])], {}, '/embeddings/Slice_len');
  const positionTable = g.randomParam('embeddings.position_embeddings.weight', [c.maxPositions, dim], 0.1);
  const positions = g.op('Slice', [positionTable, g.ints([0]), seqLen, g.ints([0])], {}, '/embeddings/position_embeddings/Slice');
  const types = g.op(
    'Gather',
    [g.randomParam('embeddings.token_type_embeddings.weight', [c.typeVocabSize ?? 2, dim], 0.1), 'token_type_ids'],
    { axis: 0 },
    '/embeddings/token_type_embeddings/Gather',
  );
  const summed = g.op('Add', [g.op('Add', [words, types], {}, '/embeddings/Add'), positions], {}, '/embeddings/Add_1');
  let h = g.layerNorm(summed, 'embeddings.LayerNorm', dim, EPS);
  // [B, S] -> [B, 1, 1, S] additive mask
  const maskF = g.op('Cast', ['attention_mask'], { to: F }, '/Cast');
  const inverted = g.op('Sub', [g.scalar(1), maskF], {}, '/Sub');
  const mask = g.op('Mul', [g.op('Unsqueeze', [inverted, g.ints([1, 2])], {}, '/Unsqueeze'), g.scalar(FLOAT32_MIN)], {}, '/Mul');
  for (let l = 0; l < c.layers; l++) {
    const path = `encoder.layer.${l}`;
    const scope = GraphBuilder.scope(path);
    const attn = attention(g, h, `${path}.attention`, dim, c.heads, {
      mask,
      names: ['self.query', 'self.key', 'self.value', 'output.dense'],
      qkvBias: true,
    });
    h = g.layerNorm(g.op('Add', [attn, h], {}, `${scope}/attention/output/Add`), `${path}.attention.output.LayerNorm`, dim, EPS);
    const inner = g.gelu(g.linear(h, `${path}.intermediate.dense`, dim, c.intermediateSize), `${path}.intermediate.intermediate_act_fn`);
    const out = g.linear(inner, `${path}.output.dense`, c.intermediateSize, dim, { gain: 0.5 });
    h = g.layerNorm(g.op('Add', [out, h], {}, `${scope}/output/Add`), `${path}.output.LayerNorm`, dim, EPS);
  }
  g.renameOutput(h, 'last_hidden_state');
  const first = g.op('Gather', ['last_hidden_state', g.ints([0])], { axis: 1 }, '/pooler/Gather');
  const flat = g.op('Reshape', [first, g.ints([0, dim])], {}, '/pooler/Reshape');
  g.renameOutput(g.op('Tanh', [g.linear(flat, 'pooler.dense', dim, dim)], {}, '/pooler/activation/Tanh'), 'pooler_output');
  return {
    inputs: [
      valueInfo('input_ids', I32, ['batch', 'sequence']),
      valueInfo('attention_mask', I32, ['batch', 'sequence']),
      valueInfo('token_type_ids', I32, ['batch', 'sequence']),
    ],
    outputs: [valueInfo('last_hidden_state', F, ['batch', 'sequence', dim]), valueInfo('pooler_output', F, ['batch', dim])],
  };
}
