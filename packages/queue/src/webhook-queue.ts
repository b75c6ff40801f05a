// Webhook deliveries are jobs on their own BullMQ queue: retried with exponential backoff on network errors,
// 429 and 5xx only; every attempt is recorded on the job's envelope. Each delivery's BullMQ id is fixed by
// (job, event, attempt), so emitting an event again (a rerun that finds its job already finished) adds nothing:
// every event goes out once.
import { Queue, Worker, UnrecoverableError, type Job } from 'bullmq';
import { present, type JobEnvelope } from '@farm/core';
import { blockingConnection } from './redis';
import type { EventSink, JobLifecycle } from './lifecycle';
import type { DeliveryJobData, WebhookEvent } from './types';

export const WEBHOOK_QUEUE = 'webhooks';
const PROGRESS_INTERVAL_MS = 2000;

/** The BullMQ id of one delivery: `<job>:<event>:<n>` (BullMQ allows exactly three `:` parts). */
export function deliveryId(envelope: JobEnvelope, event: WebhookEvent): string {
  if (event === 'completed') return `${envelope.id}:completed:end`;
  if (event === 'start') return `${envelope.id}:start:${envelope.attempts}`;
  return `${envelope.id}:progress:${envelope.attempts}.${envelope.progress?.step ?? 0}`;
}

/** Whether a job's webhook asked for `event` (the job has one, and its event filter names it). */
export function wantsWebhook(envelope: JobEnvelope, event: WebhookEvent): envelope is JobEnvelope & { webhook: NonNullable<JobEnvelope['webhook']> } {
  return !!envelope.webhook && envelope.webhook.events.includes(event);
}

export class WebhookEmitter implements EventSink {
  private readonly lastProgress = new Map<string, number>();

  constructor(private readonly queue: Queue<DeliveryJobData>) {}

  /** Honours the job's event filter and throttles progress (per process); the payload is what GET /v1/jobs/:id shows. */
  async emit(envelope: JobEnvelope, event: WebhookEvent): Promise<void> {
    if (!wantsWebhook(envelope, event)) return;
    if (event === 'progress') {
      const last = this.lastProgress.get(envelope.id) ?? 0;
      if (Date.now() - last < PROGRESS_INTERVAL_MS) return;
      this.lastProgress.set(envelope.id, Date.now());
    } else if (event === 'completed') {
      this.lastProgress.delete(envelope.id);
    }
    await this.queue.add(
      event,
      { jobId: envelope.id, event, url: envelope.webhook.url, payload: present(envelope) },
      {
        jobId: deliveryId(envelope, event),
        attempts: event === 'progress' ? 1 : 6,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    );
  }
}

export interface WebhookWorkerOptions {
  redisUrl: string;
  prefix: string;
  lifecycle: Pick<JobLifecycle, 'recordDelivery'>;
  send(delivery: DeliveryJobData & { deliveryId: string }): Promise<{ status: number }>;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export function createWebhookWorker(opts: WebhookWorkerOptions): Worker<DeliveryJobData> {
  const record = (job: Job<DeliveryJobData>, status: number | null, ok: boolean, error?: string) =>
    opts.lifecycle.recordDelivery(job.data.jobId, {
      event: job.data.event,
      attempt: job.attemptsMade + 1,
      status,
      ok,
      at: new Date().toISOString(),
      ...(error ? { error } : {}),
    });
  const connection = blockingConnection(opts.redisUrl);
  connection.on('error', (e) => opts.log?.('webhook worker: Redis connection error', { error: e.message }));
  const worker = new Worker<DeliveryJobData>(
    WEBHOOK_QUEUE,
    async (job) => {
      let status: number;
      try {
        ({ status } = await opts.send({ ...job.data, deliveryId: job.id! }));
      } catch (e) {
        await record(job, null, false, (e as Error).message);
        throw e;
      }
      const ok = status >= 200 && status < 300;
      await record(job, status, ok, ok ? undefined : `HTTP ${status}`);
      if (ok) return;
      if (status === 429 || status >= 500) throw new Error(`webhook answered HTTP ${status}`);
      throw new UnrecoverableError(`webhook answered HTTP ${status}; not retried`);
    },
    { connection, prefix: opts.prefix, concurrency: 8 },
  );
  worker.on('error', (e) => opts.log?.('webhook worker error', { error: e.message }));
  worker.on('closed', () => connection.disconnect());
  return worker;
}
