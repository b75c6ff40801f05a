// A generated model's weights written the way people download models: a single-file LDM checkpoint (with a sidecar
// .yaml for what shapes cannot say, optionally EMA copies and LDM's schedule buffers) or a diffusers folder with
// .safetensors weights and config.json files. Importing either must give back the generated model.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { writeSafetensorsFile, type Dtype } from '@farm/engine/lora';
import { GraphBuilder, initializerData, type WeightSource } from './onnx-builder';
import { SeededRandom } from './seeded-random';
import { buildTextEncoder } from './clip-text-encoder';
import { buildBertTextEncoder } from './bert-text-encoder';
import { buildUNet } from './unet';
import { buildVaeDecoder, buildVaeEncoder } from './vae';
import { presets, type ModelConfig, type PresetName } from './presets';
import { SCHEDULER_CONFIG, textEncoderConfigJson, writeTokenizer } from './generate-model';
import { KeyTable, LDM_PREFIX, isVaeAttentionProjection, unetPairs, unetStructure, vaePairs, vaeStructure } from './import/ldm-keys';

interface Param {
  key: string;
  shape: number[];
  data: () => Float32Array;
}
type Network = 'text_encoder' | 'unet' | 'vae';

function transposeBack(data: Float32Array, rows: number, cols: number): Float32Array {
  // the graph holds [in, out] = [cols, rows]; torch wants [out, in]
  const out = new Float32Array(data.length);
  for (let c = 0; c < cols; c++) for (let r = 0; r < rows; r++) out[r * cols + c] = data[c * rows + r];
  return out;
}

/** Per-tensor random values drawn only when written (SD1.5-sized fixtures for benchmarks, never whole in memory). */
function lazyRandom(seed: number): WeightSource {
  return {
    read(key, count) {
      let h = seed >>> 0;
      for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
      return new SeededRandom(h).normal(count, 0.02);
    },
  };
}

/** The torch parameters of one network, drawn exactly as generateModel draws them for `seed` (or, `lazy`, drawn
 * per tensor when written: other values, flat memory). */
function networkParams(config: ModelConfig, seed: number, network: Network, lazy = false): Param[] {
  const builds: [number, (g: GraphBuilder) => unknown][] =
    network === 'text_encoder'
      ? [[1, (g) => (config.textEncoder.kind === 'bert' ? buildBertTextEncoder(g, config.textEncoder) : buildTextEncoder(g, config.textEncoder))]]
      : network === 'unet'
        ? [[2, (g) => buildUNet(g, config.unet, { withResiduals: false })]]
        : [
            [3, (g) => buildVaeEncoder(g, config.vae)],
            [4, (g) => buildVaeDecoder(g, config.vae)],
          ];
  return builds.flatMap(([index, build]) => {
    const g = new GraphBuilder(new SeededRandom(seed * 1000 + index), false, lazy ? lazyRandom(seed * 1000 + index) : undefined);
    build(g);
    const byName = new Map(g.initializers.map((i) => [i.name, i]));
    return g.weights.map((w) => ({
      key: w.key,
      shape: w.shape,
      data: () => {
        const values = initializerData(byName.get(w.initializer)!) as Float32Array;
        return w.transposed ? transposeBack(values, w.shape[0], w.shape[1]) : values;
      },
    }));
  });
}

export interface CheckpointFixtureOptions {
  preset: PresetName | ModelConfig;
  seed?: number;
  dtype?: Dtype;
  /** LDM only: also write model_ema.* copies (with other values) and LDM's schedule buffers */
  ema?: boolean;
  /** LDM only: the sidecar yaml's parameterization */
  parameterization?: 'eps' | 'v';
  /** draw each tensor when it is written, not as generateModel does (values differ; memory stays flat: SD1.5 sizes) */
  lazy?: boolean;
}

/** `<dir>/<name>.safetensors` + `<dir>/<name>.yaml`, as an SD1.x checkpoint from Civitai. */
export function writeLdmCheckpoint(path: string, opts: CheckpointFixtureOptions): void {
  const config = typeof opts.preset === 'string' ? presets[opts.preset] : opts.preset;
  const seed = opts.seed ?? 1;
  const dtype = opts.dtype ?? 'F32';
  const unetTable = new KeyTable(unetPairs(unetStructure(config.unet)));
  const vaeTable = new KeyTable(vaePairs(vaeStructure(config.vae)));
  const entries: { name: string; dtype: Dtype; shape: number[]; data: () => Float32Array }[] = [];
  for (const p of networkParams(config, seed, 'unet', opts.lazy)) {
    entries.push({ name: LDM_PREFIX.unet + unetTable.toLdm(p.key), dtype, shape: p.shape, data: p.data });
    if (opts.ema)
      entries.push({ name: `model_ema.${unetTable.toLdm(p.key).replace(/\./g, '')}`, dtype, shape: p.shape, data: () => p.data().map((v) => v * 0.5 + 0.01) });
  }
  for (const p of networkParams(config, seed, 'vae', opts.lazy)) {
    const shape = isVaeAttentionProjection(p.key) ? [...p.shape, 1, 1] : p.shape;
    entries.push({ name: LDM_PREFIX.vae + vaeTable.toLdm(p.key), dtype, shape, data: p.data });
  }
  for (const p of networkParams(config, seed, 'text_encoder', opts.lazy))
    entries.push({ name: LDM_PREFIX.text_encoder + p.key, dtype, shape: p.shape, data: p.data });
  if (opts.ema) {
    entries.push({ name: 'model_ema.decay', dtype: 'F32', shape: [], data: () => Float32Array.of(0.9999) });
    for (const buffer of ['betas', 'alphas_cumprod']) entries.push({ name: buffer, dtype: 'F32', shape: [1000], data: () => new Float32Array(1000).fill(0.5) });
  }
  writeSafetensorsFile(path, entries, { format: 'pt' });
  const params = {
    ...(opts.parameterization ? { parameterization: opts.parameterization } : {}),
    unet_config: {
      target: 'ldm.modules.diffusionmodules.openaimodel.UNetModel',
      params: { num_heads: config.unet.heads, norm_num_groups: config.unet.normGroups, in_channels: config.unet.inChannels },
    },
    first_stage_config: { target: 'ldm.models.autoencoder.AutoencoderKL', params: { ddconfig: { norm_num_groups: config.vae.normGroups } } },
    cond_stage_config: { target: 'ldm.modules.encoders.modules.FrozenCLIPEmbedder', params: { num_heads: config.textEncoder.heads } },
  };
  writeFileSync(path.replace(/\.safetensors$/, '.yaml'), toYaml({ model: { target: 'ldm.models.diffusion.ddpm.LatentDiffusion', params } }));
}

/** A diffusers folder: <net>/(diffusion_pytorch_model|model).safetensors + config.json, tokenizer/, scheduler/. */
export function writeDiffusersFolder(dir: string, opts: CheckpointFixtureOptions): void {
  const config = typeof opts.preset === 'string' ? presets[opts.preset] : opts.preset;
  const seed = opts.seed ?? 1;
  const dtype = opts.dtype ?? 'F32';
  const bert = config.textEncoder.kind === 'bert';
  const write = (sub: string, file: string, network: Network, json: Record<string, unknown>) => {
    mkdirSync(join(dir, sub), { recursive: true });
    writeSafetensorsFile(
      join(dir, sub, file),
      networkParams(config, seed, network, opts.lazy).map((p) => ({ name: p.key, dtype, shape: p.shape, data: p.data })),
      { format: 'pt' },
    );
    writeFileSync(join(dir, sub, 'config.json'), JSON.stringify(json, null, 2));
  };
  write('text_encoder', 'model.safetensors', 'text_encoder', textEncoderConfigJson(config.textEncoder));
  const u = config.unet;
  write('unet', 'diffusion_pytorch_model.safetensors', 'unet', {
    _class_name: 'UNet2DConditionModel',
    in_channels: u.inChannels,
    out_channels: u.outChannels,
    block_out_channels: u.blockOutChannels,
    layers_per_block: u.layersPerBlock,
    attention_head_dim: u.heads,
    cross_attention_dim: u.crossAttentionDim,
    norm_num_groups: u.normGroups,
  });
  const v = config.vae;
  write('vae', 'diffusion_pytorch_model.safetensors', 'vae', {
    _class_name: 'AutoencoderKL',
    block_out_channels: v.blockOutChannels,
    layers_per_block: v.layersPerBlock,
    latent_channels: v.latentChannels,
    norm_num_groups: v.normGroups,
  });
  writeTokenizer(join(dir, 'tokenizer'), config);
  mkdirSync(join(dir, 'scheduler'), { recursive: true });
  writeFileSync(join(dir, 'scheduler/scheduler_config.json'), JSON.stringify(SCHEDULER_CONFIG, null, 2));
  writeFileSync(
    join(dir, 'model_index.json'),
    JSON.stringify(
      {
        _class_name: 'StableDiffusionPipeline',
        _diffusers_version: '0.30.0',
        scheduler: ['diffusers', 'PNDMScheduler'],
        text_encoder: ['transformers', bert ? 'BertModel' : 'CLIPTextModel'],
        tokenizer: ['transformers', bert ? 'BertTokenizer' : 'CLIPTokenizer'],
        unet: ['diffusers', 'UNet2DConditionModel'],
        vae: ['diffusers', 'AutoencoderKL'],
      },
      null,
      2,
    ),
  );
}
