// The models under MODELS_DIR: each folder in the diffusers ONNX layout is one model, named by its folder.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UnknownModelError } from '@farm/core';
import { loadTokenizer, type PromptTokenizer } from '../tokenizer';
import { SD15_SCHEDULER, type SchedulerConfig } from '../schedulers';

export interface ModelInfo {
  name: string;
  path: string;
  hasControlNet: boolean;
}

export interface LoadedModelFiles {
  info: ModelInfo;
  tokenizer: PromptTokenizer;
  scheduler: SchedulerConfig;
}

export class ModelRegistry {
  private models = new Map<string, ModelInfo>();
  private readonly loaded = new Map<string, LoadedModelFiles>();

  constructor(private readonly modelsDir: string) {
    this.refresh();
  }

  refresh(): void {
    const found = new Map<string, ModelInfo>();
    const entries = existsSync(this.modelsDir) ? readdirSync(this.modelsDir).sort() : [];
    for (const name of entries) {
      const path = join(this.modelsDir, name);
      if (!statSync(path).isDirectory() || name.includes('.tmp-')) continue;
      if (!existsSync(join(path, 'unet/model.onnx')) || !existsSync(join(path, 'text_encoder/model.onnx'))) continue;
      const hasControlNet = existsSync(join(path, 'controlnet/model.onnx')) && existsSync(join(path, 'unet_controlnet/model.onnx'));
      found.set(name, { name, path, hasControlNet });
    }
    this.models = found;
    for (const key of this.loaded.keys()) if (!found.has(key)) this.loaded.delete(key);
  }

  list(): ModelInfo[] {
    return [...this.models.values()];
  }

  get(name: string): ModelInfo {
    const info = this.models.get(name);
    if (!info) throw new UnknownModelError(name, [...this.models.keys()]);
    return info;
  }

  /** Tokenizer and scheduler config, read once per model. */
  files(name: string): LoadedModelFiles {
    const cached = this.loaded.get(name);
    if (cached) return cached;
    const info = this.get(name);
    const tokenizer = loadTokenizer(join(info.path, 'tokenizer'));
    const schedulerPath = join(info.path, 'scheduler/scheduler_config.json');
    const scheduler = existsSync(schedulerPath) ? { ...SD15_SCHEDULER, ...JSON.parse(readFileSync(schedulerPath, 'utf8')) } : SD15_SCHEDULER;
    const files = { info, tokenizer, scheduler };
    this.loaded.set(name, files);
    return files;
  }
}
