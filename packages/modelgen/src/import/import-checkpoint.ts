// Checkpoint import: a single-file LDM .safetensors or a diffusers folder becomes a model folder in the engine's
// ONNX layout, built by the generator's own graph builders with the checkpoint's weights streamed in one tensor at a
// time. Pickle formats are refused, never unpickled.
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { tokenizerKind } from '@farm/engine/tokenizer';
import { generateModel } from '../generate-model';
import { listWeights } from '../linear-modules';
import type { ModelConfig } from '../presets';
import { IGNORED, openDiffusersFolder, openLdmCheckpoint, type OpenedCheckpoint } from './checkpoint-sources';
import { inferConfig } from './infer-config';

export const PICKLE_EXTENSIONS = ['.ckpt', '.pt', '.pth', '.bin', '.pkl'];

export class CheckpointError extends Error {}

export type CheckpointFormat = 'ldm' | 'diffusers';

/** What a path holds: an LDM single file, a diffusers folder, or an error naming why it cannot be imported. */
export function checkpointFormat(path: string): CheckpointFormat {
  const ext = extname(path).toLowerCase();
  if (PICKLE_EXTENSIONS.includes(ext)) {
    throw new CheckpointError(`${basename(path)} is a pickle checkpoint (${ext}); pickles are refused and never unpickled — use the .safetensors version of the model`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (existsSync(join(path, 'unet')) && existsSync(join(path, 'vae'))) return 'diffusers';
    throw new CheckpointError(`${path} is not a diffusers folder (no unet/ and vae/)`);
  }
  if (ext === '.safetensors') return 'ldm';
  throw new CheckpointError(`${basename(path)}: expected a .safetensors checkpoint or a diffusers folder`);
}

export interface ImportOptions {
  /** the model folder to write (written beside it first, then renamed into place) */
  outDir: string;
  /** tokenizer/ folder for a single-file checkpoint (which carries none); a diffusers folder brings its own */
  tokenizerDir?: string;
  /** epsilon | v_prediction; default: a sidecar .yaml's parameterization or the folder's scheduler config */
  predictionType?: string;
  /** store large weights as float16 in the ONNX files */
  fp16Weights?: boolean;
  /** called as each network is written (done of total) */
  onProgress?(done: number, total: number): void;
  log?(line: string): void;
}

export interface ImportResult {
  format: CheckpointFormat;
  config: ModelConfig;
  variant: { inpainting: boolean; predictionType: string; textEncoder: 'clip' | 'bert' };
}

function listKeys(title: string, keys: string[]): string {
  return keys.length === 0 ? '' : `\n  ${title} (${keys.length}): ${keys.slice(0, 12).join(', ')}${keys.length > 12 ? ', …' : ''}`;
}

function checkKeys(ckpt: OpenedCheckpoint, config: ModelConfig, source: string): void {
  let report = '';
  for (const [network, view] of [['unet', ckpt.unet], ['vae', ckpt.vae], ['text_encoder', ckpt.textEncoder]] as const) {
    const { missing, unexpected } = view.check(listWeights(config, network).map((w) => w.key), IGNORED);
    if (missing.length || unexpected.length) report += `\n${network}:${listKeys('missing', missing)}${listKeys('unexpected', unexpected)}`;
  }
  if (report) throw new CheckpointError(`${basename(source)} does not match the ${config.textEncoder.kind === 'bert' ? 'Taiyi' : 'SD1.x'} graph its shapes describe:${report}`);
}

export async function importCheckpoint(source: string, opts: ImportOptions): Promise<ImportResult> {
  const format = checkpointFormat(source);
  const ckpt = format === 'ldm' ? openLdmCheckpoint(source, opts) : openDiffusersFolder(source, opts);
  try {
    const config = inferConfig(ckpt, basename(source).replace(/\.safetensors$/i, ''));
    checkKeys(ckpt, config, source);
    const biggest = Math.max(...(['unet', 'vae', 'text_encoder'] as const).map((n) => listWeights(config, n).reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0)));
    config.externalData = biggest > 1.5e8; // past protobuf's 2 GB limit in float32, with room
    const tokenizerDir = ckpt.tokenizerDir ?? opts.tokenizerDir;
    const wanted = config.textEncoder.kind ?? 'clip';
    if (!tokenizerDir || tokenizerKind(tokenizerDir) !== wanted) {
      throw new CheckpointError(`${basename(source)} needs a ${wanted === 'clip' ? 'CLIP tokenizer (vocab.json + merges.txt)' : 'BERT tokenizer (vocab.txt)'} for its ${config.textEncoder.vocabSize}-token text encoder: ${tokenizerDir ? `${tokenizerDir} holds another kind` : 'none was found; pass --tokenizer <dir> or put an SD model with that tokenizer beside it'}`);
    }
    const predictionType = opts.predictionType ?? ckpt.hints.predictionType ?? 'epsilon';
    const tmp = `${opts.outDir}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(dirname(opts.outDir), { recursive: true });
    let written = 0;
    try {
      await generateModel({
        preset: config, outDir: tmp, controlnet: false, fp16Weights: opts.fp16Weights,
        weights: { unet: ckpt.unet, vae: ckpt.vae, text_encoder: ckpt.textEncoder },
        tokenizerFrom: tokenizerDir, scheduler: { ...ckpt.scheduler, prediction_type: predictionType },
        log: (line) => { opts.log?.(line); opts.onProgress?.(++written, 4); },
      });
      const result: ImportResult = { format, config, variant: { inpainting: config.unet.inChannels === 9, predictionType, textEncoder: wanted } };
      writeFileSync(join(tmp, 'import.json'), JSON.stringify({ source: basename(source), ...result }, null, 2));
      rmSync(opts.outDir, { recursive: true, force: true });
      renameSync(tmp, opts.outDir);
      return result;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    ckpt.close();
  }
}
