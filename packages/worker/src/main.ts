// The worker process: config from the environment (via @farm/core's schema), SIGTERM finishes the running batch.
import { createLogger, defaultWorkerMemoryBytes, loadConfig, storageConfig, type FarmConfig } from '@farm/core';
import { createStorage } from '@farm/storage';
import { startWorker } from './start-worker';
import { createWorkerMetrics } from './worker-metrics';
import { startHealthServer } from './health-server';

export async function runWorkerProcess(config: FarmConfig, extra: { lockDurationMs?: number; stalledIntervalMs?: number } = {}): Promise<void> {
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, role: 'worker' });
  if (!config.REDIS_URL) throw new Error('REDIS_URL is required for a worker');
  const metrics = createWorkerMetrics();
  const worker = await startWorker({
    // every job this worker ends: counted, and one log line (failures at warn; the reason was logged with the failure)
    observer: {
      ...metrics.observer,
      jobEnded(e, timings) {
        metrics.observer.jobEnded?.(e, timings);
        logger[e.status === 'failed' ? 'warn' : 'info'](
          {
            jobId: e.id,
            req_id: e.request_id,
            status: e.status,
            model: e.input.model,
            attempts: e.attempts,
            batchSize: e.batch_size,
            error: e.error ?? undefined,
            queueSeconds: seconds(e.created_at, e.started_at),
            runSeconds: seconds(e.started_at, e.completed_at),
            timings,
          },
          'job finished',
        );
      },
    },
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    modelsDir: config.MODELS_DIR,
    loraDir: config.LORA_DIR,
    upscalersDir: config.UPSCALERS_DIR,
    embeddingsDir: config.EMBEDDINGS_DIR,
    vaeDir: config.VAE_DIR,
    storage: createStorage(storageConfig(config)),
    maxBatch: config.MAX_BATCH,
    maxPixels: config.MAX_PIXELS,
    maxSteps: config.MAX_STEPS,
    models: config.WORKER_MODELS,
    switchAfterMs: config.MODEL_SWITCH_AFTER_MS,
    providers: config.EXECUTION_PROVIDERS,
    graphFlavour: config.GRAPH_FLAVOUR,
    gpuDeviceId: config.GPU_DEVICE_ID,
    sessionCacheBytes: config.SESSION_CACHE_BYTES,
    intraOpThreads: config.ORT_THREADS,
    ortSpinning: config.ORT_SPINNING,
    engineNice: config.ENGINE_NICE,
    storageAttempts: config.STORAGE_ATTEMPTS,
    memoryBudget: config.WORKER_MEMORY_BYTES ?? defaultWorkerMemoryBytes(),
    maxPromptChunks: config.MAX_PROMPT_CHUNKS,
    ...extra,
    log: (msg, fields, level) => logger[level ?? 'info'](fields ?? {}, msg),
  });
  const health =
    config.WORKER_HEALTH_PORT === undefined
      ? null
      : await startHealthServer({ port: config.WORKER_HEALTH_PORT, metrics, stuckMs: config.WORKER_STUCK_SECONDS * 1000 });
  const models = worker.engine.listModels().map((m) => m.name);
  if (models.length === 0)
    logger.warn(
      { workerId: worker.id, modelsDir: config.MODELS_DIR, healthPort: health?.port ?? null },
      'worker ready but MODELS_DIR holds no model: it can run no job (add a model folder; gateways answer 503 for calls that need one)',
    );
  else logger.info({ workerId: worker.id, models, healthPort: health?.port ?? null }, 'worker ready');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'finishing the running batch, then exiting');
    await worker.close();
    await health?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

const seconds = (from: string | null, to: string | null) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null);

export function workerTimingsFromEnv(env: NodeJS.ProcessEnv): { lockDurationMs?: number; stalledIntervalMs?: number } {
  const n = (v?: string) => (v ? Number(v) : undefined);
  return { lockDurationMs: n(env.WORKER_LOCK_MS), stalledIntervalMs: n(env.WORKER_STALLED_MS) };
}

export { loadConfig };
