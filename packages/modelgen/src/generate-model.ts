// Writes a model folder in the diffusers ONNX export layout with seeded random weights.
import { cpSync, mkdirSync, writeFileSync, existsSync, rmSync, renameSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, type WeightSource } from './onnx-builder';
import { SeededRandom } from './seeded-random';
import { buildTextEncoder } from './clip-text-encoder';
import { buildBertTextEncoder } from './bert-text-encoder';
import { buildWordPieceVocab } from './wordpiece-vocab';
import { buildUNet } from './unet';
import { buildControlNet } from './controlnet';
import { splitControlNetFolder } from './controlnet-split';
import { buildVaeEncoder, buildVaeDecoder } from './vae';
import { buildTokenizerFiles } from './tokenizer-files';
import { writeOnnxModel, parameterCount, type BuiltGraph } from './write-onnx';
import { presets, type ModelConfig } from './presets';

export interface GenerateModelOptions {
  preset: keyof typeof presets | ModelConfig;
  outDir: string;
  seed?: number;
  /** also write controlnet/ and unet_controlnet/ (default: true for 4-channel UNets, false for inpainting models) */
  controlnet?: boolean;
  /** store large weights as float16 with a Cast to float32 in the graph (default false) */
  fp16Weights?: boolean;
  /**
   * Graph flavours to write from the same weights: `portable` as <net>/model.onnx (default), `gpu` as
   * <net>/model.gpu.onnx (fused attention, float16; the BERT text encoder stays portable-only).
   */
  flavours?: ('portable' | 'gpu')[];
  /** the gpu flavour's precision (fp32 keeps its structure runnable and comparable on CPU, for tests) */
  gpuPrecision?: 'fp16' | 'fp32';
  log?: (line: string) => void;
  /** the networks' weights from a checkpoint instead of the seeded generator (import); vae feeds both VAE halves */
  weights?: Partial<Record<WeightedNetwork, WeightSource>>;
  /** copy this tokenizer/ folder instead of generating one (import) */
  tokenizerFrom?: string;
  /** scheduler_config.json keys over the SD1.5 defaults (import: prediction_type, a diffusers folder's config) */
  scheduler?: Record<string, unknown>;
}

export type WeightedNetwork = 'text_encoder' | 'unet' | 'vae';
const sourceOf = (sub: string): WeightedNetwork => (sub.startsWith('vae') ? 'vae' : sub === 'text_encoder' ? 'text_encoder' : 'unet');

export const SCHEDULER_CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.30.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: 'leading',
  trained_betas: null,
};

/**
 * Bumped whenever the generated graphs change, so cached generated models (tests, `npm start`) are made again.
 * 2: UNet upsamplers resize to their skip connection's size (any multiple of 8).
 * 3: the CLIP text encoder also outputs hidden_states.0 .. hidden_states.L (clip skip).
 * 4: the VAE encoder's downsamplers pad right and bottom only, as SD's VAE (real checkpoints' img2img latents).
 * 5: controlnet/ also holds its conditioning embedding split off (cond_embedding.onnx + model.embedded.onnx).
 * 6: attention without a mask runs in query slices (bounded memory at large sizes; layers.ts slicedAttention).
 */
export const GRAPH_VERSION = 6;

function modelIndex(withControlNet: boolean, tokenizerClass: string) {
  const onnxModel = ['diffusers', 'OnnxRuntimeModel'];
  return {
    _farm_graph_version: GRAPH_VERSION,
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.30.0',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: onnxModel,
    tokenizer: ['transformers', tokenizerClass],
    unet: onnxModel,
    vae_decoder: onnxModel,
    vae_encoder: onnxModel,
    ...(withControlNet ? { controlnet: onnxModel, unet_controlnet: onnxModel } : {}),
  };
}

/** text_encoder/config.json as transformers writes it (optimum's ONNX exports keep it beside model.onnx). */
export function textEncoderConfigJson(t: ModelConfig['textEncoder']): Record<string, unknown> {
  const common = {
    vocab_size: t.vocabSize,
    hidden_size: t.hiddenSize,
    num_hidden_layers: t.layers,
    num_attention_heads: t.heads,
    intermediate_size: t.intermediateSize,
    max_position_embeddings: t.maxPositions,
  };
  return t.kind === 'bert'
    ? { architectures: ['BertModel'], model_type: 'bert', ...common, type_vocab_size: t.typeVocabSize, hidden_act: 'gelu', layer_norm_eps: 1e-12 }
    : { architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...common, hidden_act: 'quick_gelu' };
}

/** CLIP: vocab.json + merges.txt; BERT: vocab.txt + tokenizer_config.json (lower-casing, 77 tokens as SD uses). */
export function writeTokenizer(tokenizerDir: string, config: ModelConfig): void {
  mkdirSync(tokenizerDir, { recursive: true });
  if (config.textEncoder.kind === 'bert') {
    writeFileSync(join(tokenizerDir, 'vocab.txt'), buildWordPieceVocab(config.textEncoder.vocabSize).join('\n') + '\n');
    writeFileSync(
      join(tokenizerDir, 'tokenizer_config.json'),
      JSON.stringify(
        {
          tokenizer_class: 'BertTokenizer',
          do_lower_case: true,
          strip_accents: null,
          tokenize_chinese_chars: true,
          model_max_length: 77,
          unk_token: '[UNK]',
          sep_token: '[SEP]',
          pad_token: '[PAD]',
          cls_token: '[CLS]',
          mask_token: '[MASK]',
        },
        null,
        2,
      ),
    );
    return;
  }
  const { vocab, merges } = buildTokenizerFiles(config.tokenizerMerges);
  if (Object.keys(vocab).length > config.textEncoder.vocabSize) throw new Error('tokenizer vocabulary larger than the embedding');
  writeFileSync(join(tokenizerDir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(tokenizerDir, 'merges.txt'), ['#version: 0.2', ...merges].join('\n') + '\n');
  writeFileSync(
    join(tokenizerDir, 'special_tokens_map.json'),
    JSON.stringify({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' }, null, 2),
  );
}

export async function generateModel(opts: GenerateModelOptions): Promise<void> {
  const config = typeof opts.preset === 'string' ? presets[opts.preset] : opts.preset;
  const seed = opts.seed ?? 1;
  const withControlNet = opts.controlnet ?? config.unet.inChannels === 4;
  const log = opts.log ?? (() => {});
  mkdirSync(opts.outDir, { recursive: true });
  const flavours = opts.flavours ?? ['portable'];
  const bert = config.textEncoder.kind === 'bert';
  const write = (sub: string, index: number, build: (g: GraphBuilder) => Omit<BuiltGraph, 'builder'>) => {
    const dir = join(opts.outDir, sub);
    mkdirSync(dir, { recursive: true });
    for (const flavour of flavours) {
      if (flavour === 'gpu' && sub === 'text_encoder' && bert) continue;
      // the same seed and graph order per flavour: the same weights
      const builder = new GraphBuilder(new SeededRandom(seed * 1000 + index), false, opts.weights?.[sourceOf(sub)]);
      const float16 = flavour === 'gpu' && (opts.gpuPrecision ?? 'fp16') === 'fp16';
      if (flavour === 'gpu') builder.flavour = { fusedAttention: true, float16 };
      const graph = { builder, ...build(builder) };
      const file = flavour === 'gpu' ? 'model.gpu.onnx' : 'model.onnx';
      writeOnnxModel(join(dir, file), sub, graph, {
        externalData: config.externalData,
        fp16Weights: flavour === 'portable' && (opts.fp16Weights ?? false),
        float16,
      });
      log(`${sub}/${file}: ${(parameterCount(graph) / 1e6).toFixed(2)}M parameters`);
    }
  };
  write('text_encoder', 1, (g) => (bert ? buildBertTextEncoder(g, config.textEncoder) : buildTextEncoder(g, config.textEncoder)));
  writeFileSync(join(opts.outDir, 'text_encoder/config.json'), JSON.stringify(textEncoderConfigJson(config.textEncoder), null, 2));
  write('unet', 2, (g) => buildUNet(g, config.unet, { withResiduals: false }));
  write('vae_encoder', 3, (g) => buildVaeEncoder(g, config.vae));
  write('vae_decoder', 4, (g) => buildVaeDecoder(g, config.vae));
  if (withControlNet) {
    // Same index as unet: identical weights, plus the residual inputs.
    write('unet_controlnet', 2, (g) => buildUNet(g, config.unet, { withResiduals: true }));
    write('controlnet', 5, (g) => buildControlNet(g, config.unet, config.controlnetConditioningChannels));
    // the control image's embedding as a graph of its own, run once per job instead of at every step
    splitControlNetFolder(join(opts.outDir, 'controlnet'));
  }
  if (opts.tokenizerFrom) cpSync(opts.tokenizerFrom, join(opts.outDir, 'tokenizer'), { recursive: true });
  else writeTokenizer(join(opts.outDir, 'tokenizer'), config);
  mkdirSync(join(opts.outDir, 'scheduler'), { recursive: true });
  writeFileSync(join(opts.outDir, 'scheduler/scheduler_config.json'), JSON.stringify({ ...SCHEDULER_CONFIG, ...opts.scheduler }, null, 2));
  writeFileSync(join(opts.outDir, 'model_index.json'), JSON.stringify(modelIndex(withControlNet, bert ? 'BertTokenizer' : 'CLIPTokenizer'), null, 2));
}

/** Generates into a temporary sibling and renames it into place, so concurrent callers never see half a model. */
export async function generateModelAtomically(opts: GenerateModelOptions): Promise<void> {
  const index = join(opts.outDir, 'model_index.json');
  if (existsSync(index) && JSON.parse(readFileSync(index, 'utf8'))._farm_graph_version === GRAPH_VERSION) return;
  const tmp = `${opts.outDir}.tmp-${process.pid}-${Date.now()}`;
  await generateModel({ ...opts, outDir: tmp });
  try {
    if (existsSync(opts.outDir)) {
      // made by an older generator: swap it out (sessions that hold it open keep working)
      const old = `${opts.outDir}.tmp-old-${process.pid}-${Date.now()}`;
      renameSync(opts.outDir, old);
      rmSync(old, { recursive: true, force: true });
    }
    renameSync(tmp, opts.outDir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(opts.outDir, 'model_index.json'))) throw e;
  }
}
