// The worker process: config from the environment (via @farm/core's schema), SIGTERM finishes the running batch.
import pino from 'pino';
import { loadConfig, storageConfig, type FarmConfig } from '@farm/core';
import { createStorage } from '@farm/storage';
import { startWorker } from './start-worker';
import { createWorkerMetrics } from './worker-metrics';
import { startHealthServer } from './health-server';

export async function runWorkerProcess(config: FarmConfig, extra: { lockDurationMs?: number; stalledIntervalMs?: number } = {}): Promise<void> {
  const logger = pino({ level: config.LOG_LEVEL, base: { role: 'worker' } });
  if (!config.REDIS_URL) throw new Error('REDIS_URL is required for a worker');
  const metrics = createWorkerMetrics();
  const worker = await startWorker({
    observer: metrics.observer,
    redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, modelsDir: config.MODELS_DIR, loraDir: config.LORA_DIR, upscalersDir: config.UPSCALERS_DIR, embeddingsDir: config.EMBEDDINGS_DIR,
    storage: createStorage(storageConfig(config)), maxBatch: config.MAX_BATCH, maxPixels: config.MAX_PIXELS, maxSteps: config.MAX_STEPS,
    providers: config.EXECUTION_PROVIDERS, intraOpThreads: config.ORT_THREADS, storageAttempts: config.STORAGE_ATTEMPTS, ...extra,
    log: (msg, fields, level) => logger[level ?? 'info'](fields ?? {}, msg),
  });
  const health = config.WORKER_HEALTH_PORT === undefined ? null
    : await startHealthServer({ port: config.WORKER_HEALTH_PORT, metrics, stuckMs: config.WORKER_STUCK_SECONDS * 1000 });
  const models = worker.engine.listModels().map((m) => m.name);
  if (models.length === 0) logger.warn({ workerId: worker.id, modelsDir: config.MODELS_DIR, healthPort: health?.port ?? null }, 'worker ready but MODELS_DIR holds no model: it can run no job (add a model folder; gateways answer 503 for calls that need one)');
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

export function workerTimingsFromEnv(env: NodeJS.ProcessEnv): { lockDurationMs?: number; stalledIntervalMs?: number } {
  const n = (v?: string) => (v ? Number(v) : undefined);
  return { lockDurationMs: n(env.WORKER_LOCK_MS), stalledIntervalMs: n(env.WORKER_STALLED_MS) };
}

export { loadConfig };
