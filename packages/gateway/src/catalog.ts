// What the farm can run: models and LoRAs advertised by live workers, or read from MODELS_DIR/LORA_DIR when the
// gateway shares them (ONNX folders, checkpoint files, diffusers folders; pickles listed as refused, with the reason);
// samplers come from the engine's pure registry (no onnxruntime in the gateway).
import { existsSync, readdirSync } from 'node:fs';
import type { Catalog } from '@farm/core';
import type { FarmQueue } from '@farm/queue';
import { getSampler } from '@farm/engine/schedulers';
import { scanModelsDir } from '@farm/engine/models';
import { checkMemoryAdmission } from './limits/memory-admission';

function localUpscalers(dir?: string): string[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => f.replace(/\.onnx$/, ''))
    .sort();
}

function localLoras(dir?: string): string[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => f.replace(/\.safetensors$/, ''))
    .sort();
}

/** A catalog younger than this is used as it is; one up to STALE_MS old is used while a fresh one is read beside it. */
const FRESH_MS = 1000;
const STALE_MS = 10_000;

/**
 * The catalog, cached: a submission reads neither the disk nor Redis for it (one read per second at most, off the
 * request's path while the cached one is under STALE_MS old). `{ fresh: true }` reads it now (a model the cached
 * catalog lacks may have just arrived).
 */
export function createCatalog(
  queue: FarmQueue,
  opts: { modelsDir?: string; loraDir?: string; upscalersDir?: string; defaultModel?: string },
): (o?: { fresh?: boolean }) => Promise<Catalog> {
  const read = readCatalog(queue, opts);
  let cached: { at: number; catalog: Catalog } | null = null;
  let reading: Promise<Catalog> | null = null;
  const refresh = () => {
    reading ??= read()
      .then((catalog) => {
        cached = { at: Date.now(), catalog };
        return catalog;
      })
      .finally(() => {
        reading = null;
      });
    return reading;
  };
  return async (o = {}) => {
    const age = cached ? Date.now() - cached.at : Infinity;
    if (o.fresh || age >= STALE_MS || !cached) return refresh();
    if (age >= FRESH_MS)
      refresh().catch(() => {
        /* the next call reads again */
      });
    return cached.catalog;
  };
}

function readCatalog(queue: FarmQueue, opts: { modelsDir?: string; loraDir?: string; upscalersDir?: string; defaultModel?: string }): () => Promise<Catalog> {
  return async () => {
    const workers = await queue.workers().catch(() => []);
    const local = opts.modelsDir ? scanModelsDir(opts.modelsDir) : undefined;
    const models = new Set([...workers.flatMap((w) => w.models), ...(local?.models.map((m) => m.name) ?? [])]);
    const refused = Object.fromEntries((local?.refused ?? []).map((r) => [r.file.replace(/\.[^.]+$/, ''), r.reason]));
    const loras = new Set([...workers.flatMap((w) => w.loras), ...localLoras(opts.loraDir)]);
    const upscalers = new Set([...workers.flatMap((w) => w.upscalers ?? []), ...localUpscalers(opts.upscalersDir)]);
    const sizeMultiples: Record<string, number> = {};
    const hiddenStates: Record<string, number> = {};
    for (const w of workers) {
      for (const [m, n] of Object.entries(w.sizeMultiples ?? {})) sizeMultiples[m] = Math.max(sizeMultiples[m] ?? 8, n);
      for (const [m, n] of Object.entries(w.hiddenStates ?? {})) hiddenStates[m] = Math.min(hiddenStates[m] ?? n, n);
    }
    return {
      models: [...models].sort(),
      loras: [...loras].sort(),
      upscalers: [...upscalers].sort(),
      defaultModel: opts.defaultModel,
      sizeMultiples,
      hiddenStates,
      refused,
      checkSampler: (s, sch) => {
        getSampler(s, sch);
      },
      checkMemory: (p) => {
        checkMemoryAdmission(workers, p);
      },
    };
  };
}
