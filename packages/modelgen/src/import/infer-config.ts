// A checkpoint's network sizes, read from its tensors' shapes (what shapes cannot say — attention heads, GroupNorm
// groups — from the hints, else SD1.x's values: 8 UNet heads, 32 groups, 64-wide text-encoder heads).
import type { ModelConfig, TextEncoderConfig } from '../presets';
import type { OpenedCheckpoint } from './checkpoint-sources';
import { indicesOf, type WeightView } from './weight-view';
import { CheckpointError } from './checkpoint-error';

const need = (view: WeightView, key: string): number[] => {
  const shape = view.shape(key);
  if (!shape) throw new CheckpointError(`${view.label}: the checkpoint has no ${key}; not an SD1.x-family model`);
  return shape;
};

function textEncoderConfig(view: WeightView, heads?: number): TextEncoderConfig {
  const names = view.owned.map((n) => n.replace(/^.*?(text_model\.|embeddings\.|encoder\.)/, '$1'));
  if (view.has('text_model.embeddings.token_embedding.weight')) {
    const [vocabSize, hiddenSize] = need(view, 'text_model.embeddings.token_embedding.weight');
    const layers = indicesOf(
      names.map((n) => (n.startsWith('text_model.') ? n : `text_model.${n}`)),
      'text_model.encoder.layers.',
    ).length;
    return {
      kind: 'clip',
      vocabSize,
      hiddenSize,
      layers,
      heads: heads ?? hiddenSize / 64,
      intermediateSize: need(view, 'text_model.encoder.layers.0.mlp.fc1.weight')[0],
      maxPositions: need(view, 'text_model.embeddings.position_embedding.weight')[0],
    };
  }
  if (view.has('embeddings.word_embeddings.weight')) {
    const [vocabSize, hiddenSize] = need(view, 'embeddings.word_embeddings.weight');
    return {
      kind: 'bert',
      vocabSize,
      hiddenSize,
      layers: indicesOf(names, 'encoder.layer.').length,
      heads: heads ?? hiddenSize / 64,
      intermediateSize: need(view, 'encoder.layer.0.intermediate.dense.weight')[0],
      maxPositions: need(view, 'embeddings.position_embeddings.weight')[0],
      typeVocabSize: need(view, 'embeddings.token_type_embeddings.weight')[0],
    };
  }
  throw new CheckpointError('text_encoder: neither a CLIP text model (text_model.embeddings.token_embedding) nor a BERT model (embeddings.word_embeddings)');
}

export function inferConfig(ckpt: OpenedCheckpoint, name: string): ModelConfig {
  const { unet, vae, hints } = ckpt;
  const s = ckpt.unetStructure;
  if (s.levels < 2 || s.layersPerBlock < 1) throw new CheckpointError('unet: no down blocks found; not an SD1.x-family UNet');
  const blockOutChannels = Array.from({ length: s.levels }, (_, b) => need(unet, `down_blocks.${b}.resnets.0.conv1.weight`)[0]);
  const attended = s.attention.indexOf(true);
  const crossKey =
    attended >= 0
      ? `down_blocks.${attended}.attentions.0.transformer_blocks.0.attn2.to_k.weight`
      : 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight';
  const textEncoder = textEncoderConfig(ckpt.textEncoder, hints.textHeads);
  const config: ModelConfig = {
    name,
    textEncoder,
    unet: {
      inChannels: need(unet, 'conv_in.weight')[1],
      outChannels: need(unet, 'conv_out.weight')[0],
      blockOutChannels,
      attention: s.attention,
      layersPerBlock: s.layersPerBlock,
      heads: hints.unetHeads ?? 8,
      crossAttentionDim: need(unet, crossKey)[1],
      normGroups: hints.unetGroups ?? 32,
    },
    vae: {
      blockOutChannels: Array.from({ length: ckpt.vaeStructure.levels }, (_, b) => need(vae, `encoder.down_blocks.${b}.resnets.0.conv1.weight`)[0]),
      layersPerBlock: ckpt.vaeStructure.layersPerBlock,
      latentChannels: need(vae, 'post_quant_conv.weight')[0],
      normGroups: hints.vaeGroups ?? 32,
    },
    controlnetConditioningChannels: [],
    tokenizerMerges: 0,
    externalData: false,
  };
  if (config.unet.crossAttentionDim !== textEncoder.hiddenSize) {
    throw new CheckpointError(`the UNet attends to ${config.unet.crossAttentionDim}-wide text states but the text encoder gives ${textEncoder.hiddenSize}`);
  }
  for (const [what, dim, heads] of [
    ['unet', blockOutChannels[0], config.unet.heads],
    ['text_encoder', textEncoder.hiddenSize, textEncoder.heads],
  ] as const) {
    if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0)
      throw new CheckpointError(`${what}: ${heads} attention heads do not divide ${dim} channels; give the head count in a sidecar .yaml or config.json`);
  }
  return config;
}
