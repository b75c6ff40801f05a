// Checkpoint import: a single-file LDM .safetensors or a diffusers folder becomes a model folder in the engine's
// ONNX layout, built by the generator's own graph builders with the checkpoint's weights streamed in one tensor at a
// time. Pickle formats are refused, never unpickled.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { tokenizerKind } from '@farm/engine/tokenizer';
import { generateModel } from '../generate-model';
import { listWeights } from '../linear-modules';
import type { ModelConfig } from '../presets';
import { IGNORED, openDiffusersFolder, openLdmCheckpoint, type OpenedCheckpoint } from './checkpoint-sources';
import { inferConfig } from './infer-config';
import { CheckpointError } from './checkpoint-error';

export const PICKLE_EXTENSIONS = ['.ckpt', '.pt', '.pth', '.bin', '.pkl'];

export { CheckpointError };

export type CheckpointFormat = 'ldm' | 'diffusers';

/** What a path holds: an LDM single file, a diffusers folder, or an error naming why it cannot be imported. */
export function checkpointFormat(path: string): CheckpointFormat {
  const ext = extname(path).toLowerCase();
  if (PICKLE_EXTENSIONS.includes(ext)) {
    throw new CheckpointError(
      `${basename(path)} is a pickle checkpoint (${ext}); pickles are refused and never unpickled — use the .safetensors version of the model`,
    );
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (existsSync(join(path, 'unet')) && existsSync(join(path, 'vae'))) return 'diffusers';
    throw new CheckpointError(`${path} is not a diffusers folder (no unet/ and vae/)`);
  }
  if (ext === '.safetensors') return 'ldm';
  throw new CheckpointError(`${basename(path)}: expected a .safetensors checkpoint or a diffusers folder`);
}

function vocabularySize(dir: string, kind: 'clip' | 'bert'): number {
  return kind === 'clip'
    ? Object.keys(JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8'))).length
    : readFileSync(join(dir, 'vocab.txt'), 'utf8')
        .split('\n')
        .filter((l) => l.length > 0).length;
}

/** A single-file checkpoint carries no tokenizer: borrow the tokenizer/ of a model beside it (an ONNX or diffusers
 * folder) whose tokenizer is of the kind the text encoder needs and whose vocabulary — or whose own text encoder's
 * vocab_size (text_encoder/config.json) — has the text encoder's size (every SD1.x model uses CLIP's 49408). */
export function findTokenizerBeside(checkpoint: string, kind: 'clip' | 'bert', vocabSize: number): string | undefined {
  const dir = dirname(checkpoint);
  for (const name of readdirSync(dir).sort()) {
    const candidate = join(dir, name, 'tokenizer');
    if (name.startsWith('.') || !existsSync(candidate) || tokenizerKind(candidate) !== kind) continue;
    try {
      const config = join(dir, name, 'text_encoder/config.json');
      const theirs = existsSync(config) ? (JSON.parse(readFileSync(config, 'utf8')) as { vocab_size?: number }).vocab_size : undefined;
      if (vocabularySize(candidate, kind) === vocabSize || theirs === vocabSize) return candidate;
    } catch {
      // an unreadable tokenizer is simply not a candidate
    }
  }
  return undefined;
}

export interface ImportOptions {
  /** the model folder to write (written beside it first, then renamed into place) */
  outDir: string;
  /** tokenizer/ folder for a single-file checkpoint (which carries none; default: findTokenizerBeside); a
   * diffusers folder brings its own */
  tokenizerDir?: string;
  /** epsilon | v_prediction; default: a sidecar .yaml's parameterization or the folder's scheduler config */
  predictionType?: string;
  /** store large weights as float16 in the ONNX files */
  fp16Weights?: boolean;
  /** small files to write into the model folder before it appears (the drop-in registry's checkpoint.sha256) */
  extraFiles?: Record<string, string>;
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
  for (const [network, view] of [
    ['unet', ckpt.unet],
    ['vae', ckpt.vae],
    ['text_encoder', ckpt.textEncoder],
  ] as const) {
    const { missing, unexpected } = view.check(
      listWeights(config, network).map((w) => w.key),
      IGNORED,
    );
    if (missing.length || unexpected.length) report += `\n${network}:${listKeys('missing', missing)}${listKeys('unexpected', unexpected)}`;
  }
  if (report)
    throw new CheckpointError(
      `${basename(source)} does not match the ${config.textEncoder.kind === 'bert' ? 'Taiyi' : 'SD1.x'} graph its shapes describe:${report}`,
    );
}

export async function importCheckpoint(source: string, opts: ImportOptions): Promise<ImportResult> {
  const format = checkpointFormat(source);
  const ckpt = format === 'ldm' ? openLdmCheckpoint(source, opts) : openDiffusersFolder(source, opts);
  try {
    const config = inferConfig(ckpt, basename(source).replace(/\.safetensors$/i, ''));
    checkKeys(ckpt, config, source);
    const biggest = Math.max(
      ...(['unet', 'vae', 'text_encoder'] as const).map((n) => listWeights(config, n).reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0)),
    );
    config.externalData = biggest > 1.5e8; // past protobuf's 2 GB limit in float32, with room
    const wanted = config.textEncoder.kind ?? 'clip';
    const tokenizerDir = ckpt.tokenizerDir ?? opts.tokenizerDir ?? findTokenizerBeside(source, wanted, config.textEncoder.vocabSize);
    if (!tokenizerDir || tokenizerKind(tokenizerDir) !== wanted) {
      throw new CheckpointError(
        `${basename(source)} needs a ${wanted === 'clip' ? 'CLIP tokenizer (vocab.json + merges.txt)' : 'BERT tokenizer (vocab.txt)'} for its ${config.textEncoder.vocabSize}-token text encoder: ${tokenizerDir ? `${tokenizerDir} holds another kind` : 'none was found; pass --tokenizer <dir> or put an SD model with that tokenizer beside it'}`,
      );
    }
    const predictionType = opts.predictionType ?? ckpt.hints.predictionType ?? 'epsilon';
    const tmp = `${opts.outDir}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(dirname(opts.outDir), { recursive: true });
    let written = 0;
    try {
      await generateModel({
        preset: config,
        outDir: tmp,
        controlnet: false,
        fp16Weights: opts.fp16Weights,
        weights: { unet: ckpt.unet, vae: ckpt.vae, text_encoder: ckpt.textEncoder },
        tokenizerFrom: tokenizerDir,
        scheduler: { ...ckpt.scheduler, prediction_type: predictionType },
        log: (line) => {
          opts.log?.(line);
          opts.onProgress?.(++written, 4);
        },
      });
      const result: ImportResult = { format, config, variant: { inpainting: config.unet.inChannels === 9, predictionType, textEncoder: wanted } };
      writeFileSync(join(tmp, 'import.json'), JSON.stringify({ source: basename(source), ...result }, null, 2));
      for (const [file, text] of Object.entries(opts.extraFiles ?? {})) writeFileSync(join(tmp, file), text);
      // another process that converted the same source first keeps its folder (it may be running from it)
      if (!existsSync(join(opts.outDir, 'model_index.json'))) {
        rmSync(opts.outDir, { recursive: true, force: true });
        renameSync(tmp, opts.outDir);
      }
      return result;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    ckpt.close();
  }
}
