// The models under MODELS_DIR (see scan.ts). ONNX folders run as they are; a checkpoint file or diffusers folder is
// converted on first use by the importer the worker supplies, into MODELS_DIR/.converted/<name>-<sha256 prefix>-<importer
// version>/ (the source's hash and the graph's version: a replaced file or a new graph converts again, and every
// worker finds the others' conversions).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UnknownModelError, ValidationError } from '@farm/core';
import { loadTokenizer, type PromptTokenizer } from '../tokenizer';
import { SD15_SCHEDULER, type SchedulerConfig } from '../schedulers';
import { scanModelsDir, type RefusedEntry } from './scan';
import { fileSha256 } from './model-hash';

export interface ModelInfo {
  name: string;
  /** the ONNX model folder (for a checkpoint: its conversion, known once prepared) */
  path: string;
  hasControlNet: boolean;
  /** a checkpoint file or diffusers folder that is converted on first use */
  source?: { format: 'ldm' | 'diffusers'; path: string };
}

export interface LoadedModelFiles {
  info: ModelInfo;
  tokenizer: PromptTokenizer;
  scheduler: SchedulerConfig;
}

/** Converts a checkpoint into an ONNX model folder at outDir (written elsewhere, then renamed into place), writing
 * `extraFiles` into it; reports progress as done of total parts. */
export type ModelImporter = ((
  source: { format: 'ldm' | 'diffusers'; path: string },
  outDir: string,
  opts: { extraFiles: Record<string, string>; onProgress(done: number, total: number): void },
) => Promise<void>) & { /** what the importer builds (the generator's graph version): a new one converts again */ version?: string };

export const CONVERTED_DIR = '.converted';

function stampOf(path: string): string {
  const st = statSync(path);
  if (!st.isDirectory()) return `${st.size}|${st.mtimeMs}`;
  return sourceFiles(path)
    .map((f) => `${relative(path, f)}|${statSync(f).size}|${statSync(f).mtimeMs}`)
    .join(';');
}

function sourceFiles(dir: string): string[] {
  return ['unet', 'vae', 'text_encoder', 'tokenizer', 'scheduler'].flatMap((sub) => {
    const d = join(dir, sub);
    return existsSync(d)
      ? readdirSync(d)
          .sort()
          .map((f) => join(d, f))
          .filter((f) => statSync(f).isFile())
      : [];
  });
}

export class ModelRegistry {
  private models = new Map<string, ModelInfo>();
  private refused: RefusedEntry[] = [];
  private readonly loaded = new Map<string, LoadedModelFiles>();
  private readonly preparing = new Map<string, Promise<ModelInfo>>();

  constructor(private readonly modelsDir: string) {
    this.refresh();
  }

  refresh(): void {
    const found = new Map<string, ModelInfo>();
    const scanned = scanModelsDir(this.modelsDir);
    for (const m of scanned.models) {
      if (m.format === 'onnx') found.set(m.name, { name: m.name, path: m.path, hasControlNet: m.hasControlNet });
      else found.set(m.name, { name: m.name, path: '', hasControlNet: false, source: { format: m.format, path: m.path } });
    }
    this.models = found;
    this.refused = scanned.refused;
    for (const key of this.loaded.keys()) if (!found.has(key)) this.loaded.delete(key);
  }

  list(): ModelInfo[] {
    return [...this.models.values()];
  }

  get(name: string): ModelInfo {
    const info = this.models.get(name);
    if (info) return info;
    const refusal = this.refused.find((r) => r.file.replace(/\.[^.]+$/, '') === name || r.file === name);
    if (refusal) throw new ValidationError(refusal.reason, 'model');
    throw new UnknownModelError(name, [...this.models.keys()]);
  }

  /** The model ready to run: a checkpoint is converted once (or its earlier conversion found) first. */
  prepare(name: string, importer: ModelImporter | undefined, onProgress: (done: number, total: number) => void = () => {}): Promise<ModelInfo> {
    const info = this.get(name);
    if (!info.source || (info.path && existsSync(join(info.path, 'model_index.json')))) return Promise.resolve(info);
    const running = this.preparing.get(name);
    if (running) return running;
    const source = info.source;
    const work = (async () => {
      const sha256 = await this.sourceSha256(name, source.path);
      const outDir = join(this.modelsDir, CONVERTED_DIR, `${name}-${sha256.slice(0, 16)}${importer?.version ? `-${importer.version}` : ''}`);
      if (!existsSync(join(outDir, 'model_index.json'))) {
        if (!importer)
          throw new Error(
            `model "${name}" is a ${source.format === 'ldm' ? 'checkpoint file' : 'diffusers folder'} that must be converted, and this engine has no importer`,
          );
        await importer(source, outDir, { extraFiles: { 'checkpoint.sha256': `${sha256}\n` }, onProgress });
      }
      info.path = outDir;
      return info;
    })();
    this.preparing.set(name, work);
    work.finally(() => this.preparing.delete(name)).catch(() => {});
    return work;
  }

  /** The source's sha256 (a diffusers folder: of its files' hashes), remembered by size and mtime beside the conversions. */
  private async sourceSha256(name: string, path: string): Promise<string> {
    const memoDir = join(this.modelsDir, CONVERTED_DIR);
    const memo = join(memoDir, `${name}.source.json`);
    const stamp = stampOf(path);
    if (existsSync(memo)) {
      const known = JSON.parse(readFileSync(memo, 'utf8')) as { stamp?: string; sha256?: string };
      if (known.stamp === stamp && known.sha256) return known.sha256;
    }
    let sha256: string;
    if (statSync(path).isDirectory()) {
      const parts: string[] = [];
      for (const f of sourceFiles(path)) parts.push(`${relative(path, f)}:${await fileSha256(f)}`);
      sha256 = createHash('sha256').update(parts.join('\n')).digest('hex');
    } else sha256 = await fileSha256(path);
    mkdirSync(memoDir, { recursive: true });
    writeFileSync(memo, JSON.stringify({ stamp, sha256 }));
    return sha256;
  }

  /** Tokenizer and scheduler config, read once per model (a checkpoint once prepared). */
  files(name: string): LoadedModelFiles {
    const cached = this.loaded.get(name);
    if (cached) return cached;
    const info = this.get(name);
    if (!info.path) throw new Error(`model "${name}" has not been converted yet`);
    const tokenizer = loadTokenizer(join(info.path, 'tokenizer'));
    const schedulerPath = join(info.path, 'scheduler/scheduler_config.json');
    const scheduler = existsSync(schedulerPath) ? { ...SD15_SCHEDULER, ...JSON.parse(readFileSync(schedulerPath, 'utf8')) } : SD15_SCHEDULER;
    const files = { info, tokenizer, scheduler };
    this.loaded.set(name, files);
    return files;
  }
}
