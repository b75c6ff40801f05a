// Opens what a user brings — a single-file LDM checkpoint (.safetensors with model.diffusion_model.*,
// first_stage_model.*, cond_stage_model.transformer.*) or a diffusers folder whose weights are .safetensors — as
// three WeightViews under diffusers names, plus the structure and hints (heads, groups, prediction type) that the
// weights' shapes cannot tell. Nothing is read but headers and small JSON/YAML files.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SafetensorsFile } from '@farm/engine/lora';
import { KeyTable, LDM_PREFIX, unetPairs, vaePairs, type UNetStructure, type VaeStructure } from './ldm-keys';
import { WeightView, indicesOf } from './weight-view';
import { CheckpointError } from './checkpoint-error';

export interface Hints {
  unetHeads?: number;
  unetGroups?: number;
  vaeGroups?: number;
  textHeads?: number;
  predictionType?: string;
}

export interface OpenedCheckpoint {
  format: 'ldm' | 'diffusers';
  unet: WeightView;
  vae: WeightView;
  textEncoder: WeightView;
  unetStructure: UNetStructure;
  vaeStructure: VaeStructure;
  hints: Hints;
  /** the folder's tokenizer/ (diffusers), to be copied */
  tokenizerDir?: string;
  /** the folder's scheduler_config.json (diffusers) */
  scheduler?: Record<string, unknown>;
  /** file names no network claims and none may carry (LDM: other prefixes are ignored) */
  close(): void;
}

/** Parameters a checkpoint carries that no inference graph uses. */
export const IGNORED = /(^|\.)position_ids$|^first_stage_model\.loss\.|(^|\.)num_batches_tracked$/;

const readJson = (path: string) => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function ldmUnetStructure(names: string[]): UNetStructure {
  const p = `${LDM_PREFIX.unet}input_blocks.`;
  const set = new Set(names);
  const attention: boolean[] = [];
  const resnetsPerLevel: number[] = [0];
  for (const i of indicesOf(names, p).filter((i) => i > 0)) {
    if (set.has(`${p}${i}.0.op.weight`)) {
      resnetsPerLevel.push(0);
      continue;
    }
    const level = resnetsPerLevel.length - 1;
    resnetsPerLevel[level]++;
    attention[level] ||= names.some((n) => n.startsWith(`${p}${i}.1.`));
  }
  return { levels: resnetsPerLevel.length, layersPerBlock: resnetsPerLevel[0], attention: resnetsPerLevel.map((_, i) => attention[i] ?? false) };
}

function diffusersUnetStructure(names: string[]): UNetStructure {
  const levels = indicesOf(names, 'down_blocks.');
  return {
    levels: levels.length,
    layersPerBlock: indicesOf(names, 'down_blocks.0.resnets.').length,
    attention: levels.map((b) => names.some((n) => n.startsWith(`down_blocks.${b}.attentions.`))),
  };
}

const vaeStructureOf = (names: string[], down: string, block: (b: number) => string): VaeStructure => ({
  levels: indicesOf(names, down).length,
  layersPerBlock: indicesOf(names, block(0)).length,
});

function ldmHints(checkpoint: string, predictionType?: string): Hints {
  const yamlPath = join(dirname(checkpoint), `${basename(checkpoint).replace(/\.safetensors$/i, '')}.yaml`);
  const params = existsSync(yamlPath) ? ((parseYaml(readFileSync(yamlPath, 'utf8')) as { model?: { params?: Record<string, any> } })?.model?.params ?? {}) : {};
  return {
    unetHeads: num(params.unet_config?.params?.num_heads),
    unetGroups: num(params.unet_config?.params?.norm_num_groups),
    vaeGroups: num(params.first_stage_config?.params?.ddconfig?.norm_num_groups),
    textHeads: num(params.cond_stage_config?.params?.num_heads),
    predictionType: predictionType ?? (params.parameterization === 'v' ? 'v_prediction' : undefined),
  };
}

export function openLdmCheckpoint(path: string, opts: { predictionType?: string } = {}): OpenedCheckpoint {
  const file = new SafetensorsFile(path);
  const names = [...file.tensors.keys()];
  if (names.some((n) => n.startsWith('conditioner.embedders.'))) {
    file.close();
    throw new CheckpointError(`${basename(path)} is an SDXL checkpoint; only SD1.x-family checkpoints (and Taiyi) can be imported`);
  }
  const under = (prefix: string) => names.filter((n) => n.startsWith(prefix));
  const unetStructure = ldmUnetStructure(names);
  const vaeStructure = vaeStructureOf(names, `${LDM_PREFIX.vae}encoder.down.`, (b) => `${LDM_PREFIX.vae}encoder.down.${b}.block.`);
  const unetTable = new KeyTable(unetPairs(unetStructure));
  const vaeTable = new KeyTable(vaePairs(vaeStructure));
  const text = LDM_PREFIX.text_encoder;
  return {
    format: 'ldm',
    unet: new WeightView('unet', file, (k) => [LDM_PREFIX.unet + unetTable.toLdm(k)], under(LDM_PREFIX.unet)),
    vae: new WeightView('vae', file, (k) => [LDM_PREFIX.vae + vaeTable.toLdm(k)], under(LDM_PREFIX.vae)),
    // SD1.x checkpoints saved with older transformers lack the text_model. level
    textEncoder: new WeightView('text_encoder', file, (k) => [text + k, text + k.replace(/^text_model\./, '')], under(text)),
    unetStructure,
    vaeStructure,
    hints: ldmHints(path, opts.predictionType),
    close: () => file.close(),
  };
}

function weightsFile(dir: string, sub: string, stem: string): string {
  for (const name of [`${stem}.safetensors`, `${stem}.fp16.safetensors`]) if (existsSync(join(dir, sub, name))) return join(dir, sub, name);
  const pickle = ['bin', 'ckpt', 'pt'].map((e) => join(dir, sub, `${stem}.${e}`)).find(existsSync);
  if (pickle) throw new CheckpointError(`${pickle}: pickle weights are refused (never unpickled); use the .safetensors version of this model`);
  throw new CheckpointError(`${join(dir, sub)} has no ${stem}.safetensors`);
}

export function openDiffusersFolder(dir: string, opts: { predictionType?: string } = {}): OpenedCheckpoint {
  const files: SafetensorsFile[] = [];
  const open = (sub: string, stem: string) => {
    const f = new SafetensorsFile(weightsFile(dir, sub, stem));
    files.push(f);
    return f;
  };
  try {
    const unet = open('unet', 'diffusion_pytorch_model');
    const vae = open('vae', 'diffusion_pytorch_model');
    const text = open('text_encoder', 'model');
    const unetNames = [...unet.tensors.keys()];
    const vaeNames = [...vae.tensors.keys()];
    const unetConfig = readJson(join(dir, 'unet/config.json')) ?? {};
    const scheduler = readJson(join(dir, 'scheduler/scheduler_config.json'));
    const oldVaeAttention: Record<string, string> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };
    return {
      format: 'diffusers',
      unet: new WeightView('unet', unet, (k) => [k], unetNames),
      // older diffusers VAEs name the attention projections query/key/value/proj_attn
      vae: new WeightView('vae', vae, (k) => [k, k.replace(/\.(to_q|to_k|to_v|to_out\.0)\./, (_, p: string) => `.${oldVaeAttention[p]}.`)], vaeNames),
      // a BertModel saved from a task model carries the bert. prefix
      textEncoder: new WeightView('text_encoder', text, (k) => [k, `bert.${k}`], [...text.tensors.keys()]),
      unetStructure: diffusersUnetStructure(unetNames),
      vaeStructure: vaeStructureOf(vaeNames, 'encoder.down_blocks.', (b) => `encoder.down_blocks.${b}.resnets.`),
      hints: {
        unetHeads: num(unetConfig.num_attention_heads) ?? num(unetConfig.attention_head_dim),
        unetGroups: num(unetConfig.norm_num_groups),
        vaeGroups: num(readJson(join(dir, 'vae/config.json'))?.norm_num_groups),
        textHeads: num(readJson(join(dir, 'text_encoder/config.json'))?.num_attention_heads),
        predictionType: opts.predictionType ?? (typeof scheduler?.prediction_type === 'string' ? scheduler.prediction_type : undefined),
      },
      tokenizerDir: existsSync(join(dir, 'tokenizer')) ? join(dir, 'tokenizer') : undefined,
      scheduler,
      close: () => files.forEach((f) => f.close()),
    };
  } catch (e) {
    files.forEach((f) => f.close());
    throw e;
  }
}
