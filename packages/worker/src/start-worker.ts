// A render worker: the engine (onnxruntime), the storage for results and the queue consumer wired together.
import { Engine, EngineThread, type EngineApi, type ExecutionProvider } from '@farm/engine';
import { RenderWorker, type LogLevel, type RenderObserver } from '@farm/queue';
import { TransientError } from '@farm/core';
import { importer } from './importer';
import { imageKey, type Storage } from '@farm/storage';

export interface WorkerOptions {
  redisUrl: string;
  prefix?: string;
  modelsDir: string;
  loraDir?: string;
  upscalersDir?: string;
  embeddingsDir?: string;
  /** VAE folders that jobs' sd_vae names */
  vaeDir?: string;
  storage: Storage;
  maxBatch: number;
  /** the models this worker takes jobs for (WORKER_MODELS); unset: all of MODELS_DIR */
  models?: string[];
  /** MODEL_SWITCH_AFTER_MS: how long a job waits for a worker holding its model warm before an idle one loads it */
  switchAfterMs?: number;
  /** 'shared': one first-come order over all models (benchmarks compare it with model-aware routing) */
  routing?: 'model' | 'shared';
  /** longest wait for a Redis answer on request connections (default 2000 ms) */
  commandTimeoutMs?: number;
  maxPixels: number;
  maxSteps: number;
  providers?: ExecutionProvider[];
  intraOpThreads?: number;
  /** ORT_SPINNING (default off) */
  ortSpinning?: boolean;
  /** ENGINE_NICE: the engine thread's nice value (unset: the process's own; see @farm/engine's thread-priority.ts) */
  engineNice?: number;
  graphFlavour?: 'auto' | 'portable' | 'gpu';
  gpuDeviceId?: number;
  /** weight bytes of the engine's session cache (SESSION_CACHE_BYTES) */
  sessionCacheBytes?: number;
  /** bytes a render may take (WORKER_MEMORY_BYTES): batches split to fit; advertised so gateways refuse what fits no worker */
  memoryBudget?: number;
  /** most 75-token chunks of a prompt (MAX_PROMPT_CHUNKS) */
  maxPromptChunks?: number;
  /** run the engine in a worker thread (default): the event loop stays free to renew locks during a long batch */
  engineThread?: boolean;
  workerId?: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** tries per result image before the job's attempt fails */
  storageAttempts?: number;
  log?: (msg: string, fields?: Record<string, unknown>, level?: LogLevel) => void;
  /** metrics and liveness (see worker-metrics.ts) */
  observer?: RenderObserver;
}

async function putWithRetry(storage: Storage, key: string, body: Buffer, attempts: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await storage.put(key, body, 'image/png');
      return;
    } catch (e) {
      if (attempt >= attempts) throw new TransientError(`storing ${key} failed after ${attempt} attempts: ${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
}

export async function startWorker(opts: WorkerOptions): Promise<{ id: string; engine: EngineApi; close(): Promise<void> }> {
  const engineOptions = {
    modelsDir: opts.modelsDir,
    loraDir: opts.loraDir,
    upscalersDir: opts.upscalersDir,
    embeddingsDir: opts.embeddingsDir,
    vaeDir: opts.vaeDir,
    providers: opts.providers,
    maxPixels: opts.maxPixels,
    maxSteps: opts.maxSteps,
    intraOpThreads: opts.intraOpThreads,
    ortSpinning: opts.ortSpinning,
    graphFlavour: opts.graphFlavour,
    gpuDeviceId: opts.gpuDeviceId,
    sessionCacheBytes: opts.sessionCacheBytes,
    memoryBudget: opts.memoryBudget,
    maxPromptChunks: opts.maxPromptChunks,
  };
  // the engine thread imports the checkpoint importer itself (functions do not cross threads)
  const engine: EngineApi =
    opts.engineThread === false
      ? new Engine({ ...engineOptions, importer })
      : new EngineThread(engineOptions, { importerModule: new URL('./importer.ts', import.meta.url), nice: opts.engineNice });
  const worker = new RenderWorker({
    redisUrl: opts.redisUrl,
    prefix: opts.prefix,
    workerId: opts.workerId,
    maxBatch: opts.maxBatch,
    engine,
    models: opts.models,
    switchAfterMs: opts.switchAfterMs,
    routing: opts.routing,
    commandTimeoutMs: opts.commandTimeoutMs,
    lockDurationMs: opts.lockDurationMs,
    stalledIntervalMs: opts.stalledIntervalMs,
    log: opts.log,
    observer: opts.observer,
    prepareImages: (jobId) => void opts.storage.prepare?.(imageKey(jobId, 0)),
    storeImages: async (jobId, images) => {
      const keys = images.map((_, n) => imageKey(jobId, n));
      await Promise.all(images.map((img, n) => putWithRetry(opts.storage, keys[n], img, opts.storageAttempts ?? 4)));
      return keys;
    },
  });
  await worker.start();
  return {
    id: worker.id,
    engine,
    async close() {
      await worker.close();
      await engine.close();
    },
  };
}
