export * from './types';
export { batchKey } from './batch-key';
export { FarmQueue, RENDER_QUEUE, type FarmQueueOptions, type SubmitOptions } from './farm-queue';
export { JobStore, isTerminal, type EnvelopePatch } from './job-store';
export { createWebhookWorker, WEBHOOK_QUEUE, type WebhookWorkerOptions } from './webhook-queue';
export { blockingConnection, requestConnection, redisOp } from './redis';
export { RenderWorker, type RenderWorkerOptions, type RenderEngine } from './render-worker';
export { A1111Store } from './a1111-store';
