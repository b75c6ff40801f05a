// Network sizes. `sd15` has the real Stable Diffusion 1.5 dimensions; `tiny` keeps the architecture and shrinks it.
// `taiyi` is Taiyi-Stable-Diffusion-1B-Chinese: SD1.5's UNet and VAE with a Chinese BERT text encoder.
export interface TextEncoderConfig {
  /** CLIP (CLIPTextModel, BPE tokenizer) or BERT (BertModel, WordPiece tokenizer); default clip */
  kind?: 'clip' | 'bert';
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  maxPositions: number;
  /** BERT token-type (segment) embeddings */
  typeVocabSize?: number;
}
export interface UNetConfig {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  attention: boolean[];
  layersPerBlock: number;
  heads: number;
  crossAttentionDim: number;
  normGroups: number;
}
export interface VaeConfig {
  blockOutChannels: number[];
  layersPerBlock: number;
  latentChannels: number;
  normGroups: number;
}
export interface ModelConfig {
  name: string;
  textEncoder: TextEncoderConfig;
  unet: UNetConfig;
  vae: VaeConfig;
  controlnetConditioningChannels: number[];
  /** BPE merges to learn for the generated tokenizer */
  tokenizerMerges: number;
  /** store weights as ONNX external data */
  externalData: boolean;
}

/** An inpainting variant: the UNet takes 9 channels (latent, mask, masked-image latent), as the SD1.5 inpainting export. */
function inpainting(base: ModelConfig): ModelConfig {
  return { ...base, name: `${base.name}-inpaint`, unet: { ...base.unet, inChannels: 9 } };
}

const clipPresets: Record<'tiny' | 'sd15', ModelConfig> = {
  tiny: {
    name: 'tiny',
    textEncoder: { vocabSize: 1024, hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 64, maxPositions: 77 },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [32, 64],
      attention: [true, true],
      layersPerBlock: 1,
      heads: 2,
      crossAttentionDim: 32,
      normGroups: 8,
    },
    vae: { blockOutChannels: [16, 32, 32, 32], layersPerBlock: 1, latentChannels: 4, normGroups: 8 },
    controlnetConditioningChannels: [8, 8, 16, 16],
    tokenizerMerges: 510,
    externalData: false,
  },
  sd15: {
    name: 'sd15',
    textEncoder: { vocabSize: 49408, hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 3072, maxPositions: 77 },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [320, 640, 1280, 1280],
      attention: [true, true, true, false],
      layersPerBlock: 2,
      heads: 8,
      crossAttentionDim: 768,
      normGroups: 32,
    },
    vae: { blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, latentChannels: 4, normGroups: 32 },
    controlnetConditioningChannels: [16, 32, 96, 256],
    tokenizerMerges: 4000,
    externalData: true,
  },
};

const bert = (c: Omit<TextEncoderConfig, 'kind' | 'typeVocabSize'>): TextEncoderConfig => ({ kind: 'bert', typeVocabSize: 2, ...c });

export const presets = {
  ...clipPresets,
  taiyi: {
    ...clipPresets.sd15,
    name: 'taiyi',
    textEncoder: bert({ vocabSize: 21128, hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 3072, maxPositions: 512 }),
  },
  'tiny-taiyi': {
    ...clipPresets.tiny,
    name: 'tiny-taiyi',
    textEncoder: bert({ vocabSize: 1024, hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 64, maxPositions: 512 }),
  },
  'tiny-inpaint': inpainting(clipPresets.tiny),
  'sd15-inpaint': inpainting(clipPresets.sd15),
} satisfies Record<string, ModelConfig>;
export type PresetName = keyof typeof presets;
