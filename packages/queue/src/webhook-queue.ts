// Webhook deliveries are jobs on their own BullMQ queue: retried with exponential backoff on network errors,
// 429 and 5xx only; every attempt is recorded on the job's envelope.
import { Queue, Worker, UnrecoverableError, type Job } from 'bullmq';
import { blockingConnection } from './redis';
import type { JobStore } from './job-store';
import type { DeliveryJobData, JobEnvelope, WebhookEvent } from './types';

export const WEBHOOK_QUEUE = 'webhooks';
const PROGRESS_INTERVAL_MS = 2000;

export class WebhookEnqueuer {
  private readonly lastProgress = new Map<string, number>();
  private readonly counters = new Map<string, number>();

  constructor(private readonly queue: Queue<DeliveryJobData>) {}

  /** Decides which event (if any) a change is, honours the job's event filter, throttles progress. */
  async onChange(before: JobEnvelope, after: JobEnvelope): Promise<void> {
    if (!after.webhook) return;
    let event: WebhookEvent | null = null;
    if (after.status !== before.status) event = after.status === 'running' ? 'start' : after.status === 'queued' ? null : 'completed';
    else if (after.status === 'running' && after.progress?.step !== before.progress?.step) event = 'progress';
    if (!event || !after.webhook.events.includes(event)) return;
    if (event === 'progress') {
      const last = this.lastProgress.get(after.id) ?? 0;
      if (Date.now() - last < PROGRESS_INTERVAL_MS) return;
      this.lastProgress.set(after.id, Date.now());
    } else if (event === 'completed') {
      this.lastProgress.delete(after.id);
    }
    const n = (this.counters.get(`${after.id}:${event}`) ?? 0) + 1;
    this.counters.set(`${after.id}:${event}`, n);
    const suffix = event === 'progress' ? `${after.progress?.step ?? n}` : `${after.attempts}`;
    await this.queue.add(event, { jobId: after.id, event, url: after.webhook.url, payload: after }, {
      jobId: `${after.id}:${event}:${suffix}`,
      attempts: event === 'progress' ? 1 : 6,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 86400 },
    });
  }
}

export interface WebhookWorkerOptions {
  redisUrl: string;
  prefix: string;
  store: JobStore;
  send(delivery: DeliveryJobData & { deliveryId: string }): Promise<{ status: number }>;
}

export function createWebhookWorker(opts: WebhookWorkerOptions): Worker<DeliveryJobData> {
  const record = (job: Job<DeliveryJobData>, status: number | null, ok: boolean, error?: string) =>
    opts.store.update(job.data.jobId, (e) => ({
      deliveries: [...e.deliveries, { event: job.data.event, attempt: job.attemptsMade + 1, status, ok, at: new Date().toISOString(), ...(error ? { error } : {}) }],
    }), { allowFromTerminal: true });
  const connection = blockingConnection(opts.redisUrl);
  connection.on('error', () => {});
  const worker = new Worker<DeliveryJobData>(WEBHOOK_QUEUE, async (job) => {
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
  }, { connection, prefix: opts.prefix, concurrency: 8 });
  worker.on('error', () => {});
  worker.on('closed', () => connection.disconnect());
  return worker;
}
