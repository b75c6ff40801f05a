// The queue as the gateway and the workers see it: submit, read, list, cancel, subscribe, counts, worker heartbeats.
// Envelopes are read through JobStore and changed only through JobLifecycle; the work itself is a BullMQ job with the
// same id on the `render` queue.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueFullError, RateLimitedError, resolveJob, type GenerationParams } from '@farm/core';
import { JobStore } from './job-store';
import { A1111Store } from './a1111-store';
import { PreviewStore, type Preview } from './preview-store';
import { JobLifecycle, isTerminal } from './lifecycle';
import { decodeJson } from './envelope-codec';
import { FarmKeys, bullmqKeys } from './keys';
import { RateLimiter } from './rate-limiter';
import { WebhookEmitter, WEBHOOK_QUEUE } from './webhook-queue';
import { redisOp, requestConnection } from './redis';
import type { DeliveryJobData, JobEnvelope, JobStatus, RenderJobData, WebhookEvent, WorkerCommand, WorkerInfo } from './types';

export const RENDER_QUEUE = 'render';
const WORKER_TTL_MS = 15_000;
/** a worker silent this long is not coming back under its id (ids carry the pid): its entry is dropped */
const WORKER_FORGET_MS = 5 * 60_000;
const USER_CAP_RETRY_SECONDS = 5;

export interface FarmQueueOptions {
  redisUrl: string;
  prefix?: string;
  maxQueued?: number;
  /** jobs one owner may have queued or running at once (unset: no cap) */
  maxQueuedPerUser?: number;
  /** BullMQ attempts per job (transient faults retry with backoff) */
  attempts?: number;
  /** warnings (a failed best-effort step, a Redis connection error) */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface SubmitOptions {
  owner: string;
  webhook?: { url: string; events?: WebhookEvent[] };
  priority?: number;
  idempotencyKey?: string;
  /** the submitting request's id, kept on the envelope so worker log lines can be joined to the access log */
  requestId?: string;
}

export class FarmQueue {
  readonly prefix: string;
  readonly keys: FarmKeys;
  readonly redis: Redis;
  readonly store: JobStore;
  /** per-user A1111 options and waiting calls */
  readonly a1111: A1111Store;
  /** live previews of running jobs */
  readonly previews: PreviewStore;
  readonly lifecycle: JobLifecycle;
  readonly render: Queue<RenderJobData>;
  readonly webhooks: Queue<DeliveryJobData>;
  private subscriber: Redis | null = null;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private closed = false;
  private readonly queueConnection: Redis;

  constructor(private readonly opts: FarmQueueOptions) {
    this.prefix = opts.prefix ?? 'farm';
    this.keys = new FarmKeys(this.prefix);
    // Connection errors surface as rejected commands (redisOp turns them into 503s); the events are only logged,
    // once per outage.
    let down = false;
    const onError = (e: Error) => { if (!down) { down = true; this.warn('Redis connection error', { error: e.message }); } };
    this.redis = requestConnection(opts.redisUrl);
    this.redis.on('error', onError).on('ready', () => { down = false; });
    const connection = requestConnection(opts.redisUrl);
    connection.on('error', onError);
    this.queueConnection = connection;
    this.render = new Queue<RenderJobData>(RENDER_QUEUE, { connection, prefix: this.prefix });
    this.webhooks = new Queue<DeliveryJobData>(WEBHOOK_QUEUE, { connection, prefix: this.prefix });
    this.render.on('error', onError);
    this.webhooks.on('error', onError);
    this.store = new JobStore(this.redis, this.keys);
    this.lifecycle = new JobLifecycle(this.redis, this.keys, bullmqKeys(this.render), new WebhookEmitter(this.webhooks), (msg, fields) => this.warn(msg, fields));
    this.a1111 = new A1111Store(this.redis, this.keys);
    this.previews = new PreviewStore(this.redis, this.keys);
  }

  private warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.opts.log?.(msg, fields);
  }

  /**
   * Admits a job: the idempotency claim, the queue and per-owner caps and the envelope are one atomic step, so
   * concurrent submissions with one idempotency key all get the first one's job. Then the BullMQ job is added.
   */
  async submit(params: GenerationParams, opts: SubmitOptions): Promise<JobEnvelope> {
    return redisOp(async () => {
      for (let tries = 0; ; tries++) {
        const envelope = this.newEnvelope(randomUUID(), params, opts);
        const limits = { maxQueued: this.opts.maxQueued ?? 0, maxUnfinished: this.opts.maxQueuedPerUser ?? 0, idempotencyKey: opts.idempotencyKey };
        let admitted = await this.lifecycle.admit(envelope, limits);
        if (admitted.outcome === 'user_cap' && (await this.store.pruneUnfinished(opts.owner)) > 0) admitted = await this.lifecycle.admit(envelope, limits);
        if (admitted.outcome === 'duplicate') {
          const prior = await this.get(admitted.id);
          if (prior) return prior;
          if (tries < 3) continue; // the first one was withdrawn meanwhile: admit afresh
        }
        if (admitted.outcome === 'queue_full') throw new QueueFullError(`the queue is full (${admitted.waiting} jobs waiting); try again later`);
        if (admitted.outcome === 'user_cap') {
          throw new RateLimitedError(`you already have ${this.opts.maxQueuedPerUser} jobs queued or running (the per-user limit); wait for some to finish or cancel some`, USER_CAP_RETRY_SECONDS, 'too_many_jobs');
        }
        await this.enqueue(envelope, params, opts);
        return { ...envelope, queue_position: await this.position(envelope.id) };
      }
    });
  }

  private newEnvelope(id: string, params: GenerationParams, opts: SubmitOptions): JobEnvelope {
    const { init_image, inpaint, ...rest } = params;
    const { mask: _mask, ...inpaintFields } = inpaint ?? { mask: '' };
    const input: JobEnvelope['input'] = { ...rest, has_init_image: init_image !== undefined, ...(inpaint ? { inpaint: { ...inpaintFields as Omit<typeof inpaint, 'mask'>, has_mask: true as const } } : {}) };
    return {
      id, owner: opts.owner, status: 'queued', input, output: null, error: null,
      progress: null, queue_position: null, webhook: opts.webhook ? { url: opts.webhook.url, events: opts.webhook.events ?? ['start', 'completed'] } : null,
      deliveries: [], cancel_requested: false, created_at: new Date().toISOString(), started_at: null, completed_at: null, worker_id: null, attempts: 0, batch_size: null,
      ...(opts.requestId ? { request_id: opts.requestId } : {}),
    };
  }

  private async enqueue(envelope: JobEnvelope, params: GenerationParams, opts: SubmitOptions): Promise<void> {
    try {
      await this.render.add('render', { id: envelope.id, owner: envelope.owner, ...resolveJob(params) }, {
        jobId: envelope.id,
        ...(opts.priority ? { priority: opts.priority } : {}),
        attempts: this.opts.attempts ?? 3,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 3600, count: 10000 },
        removeOnFail: { age: 24 * 3600 },
      });
    } catch (e) {
      // a refused submission must not pin its idempotency key to a job that never existed
      await this.lifecycle.withdraw(envelope, opts.idempotencyKey)
        .catch((w: Error) => this.warn('could not withdraw a job BullMQ refused', { jobId: envelope.id, error: w.message }));
      throw e;
    }
  }

  /**
   * 1-based place among waiting jobs, or null when not waiting. BullMQ takes jobs without a priority first, FIFO from
   * the tail of the wait list, then prioritized ones by score; native list and sorted-set lookups keep this cheap.
   */
  async position(id: string): Promise<number | null> {
    const { wait, prioritized } = bullmqKeys(this.render);
    const [[, length], [, index], [, rank]] = (await this.redis.multi().llen(wait).lpos(wait, id).zrank(prioritized, id).exec()) as [unknown, number | null][];
    if (index !== null) return (length as number) - (index as number);
    if (rank !== null) return (length as number) + (rank as number) + 1;
    return null;
  }

  async get(id: string): Promise<JobEnvelope | null> {
    return redisOp(async () => {
      const e = await this.store.get(id);
      if (!e) return null;
      return e.status === 'queued' ? { ...e, queue_position: await this.position(id) } : e;
    });
  }

  list(owner: string, opts: { limit: number; offset: number }): Promise<{ jobs: JobEnvelope[]; total: number }> {
    return redisOp(() => this.store.list(owner, opts.limit, opts.offset));
  }

  /** Queued: removed and canceled at once. Running: flagged; the worker drops it between steps. */
  async cancel(id: string): Promise<JobEnvelope | null> {
    return redisOp(async () => {
      const e = await this.store.get(id);
      if (!e || isTerminal(e.status)) return e;
      const job = await this.render.getJob(id);
      if (job) {
        const state = await job.getState();
        if (state === 'waiting' || state === 'prioritized' || state === 'delayed' || state === 'waiting-children') {
          let removed = false;
          try {
            await job.remove();
            removed = true;
          } catch {
            // taken by a worker in the meantime (BullMQ refuses to remove a locked job): cancel it as a running job
          }
          if (removed) return (await this.lifecycle.cancel(e)).envelope;
        }
      }
      return (await this.lifecycle.requestCancel(e)).envelope;
    });
  }

  async isCancelRequested(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.cancel(id))) === 1;
  }

  /**
   * A1111's interrupt of a running job: its current iteration ends now and is decoded, later iterations never start;
   * the job succeeds with those images. A job that is not running is left alone, as in A1111.
   */
  async interrupt(id: string): Promise<void> {
    await redisOp(() => this.redis.multi().set(this.keys.interrupt(id), '1', 'EX', 86400).publish(this.keys.cancelChannel, `interrupt:${id}`).exec());
  }

  async isInterrupted(id: string): Promise<boolean> {
    return (await redisOp(() => this.redis.exists(this.keys.interrupt(id)))) === 1;
  }

  /** A1111's skip of a running job: only its current iteration of n_iter ends now (decoded); the next ones run. */
  async skip(id: string): Promise<void> {
    await redisOp(() => this.redis.publish(this.keys.cancelChannel, `skip:${id}`));
  }

  /** The one pub/sub connection of this queue (job envelopes, live previews), with listeners by channel. */
  private listen(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      this.subscriber = requestConnection(this.opts.redisUrl);
      this.subscriber.on('error', (e) => this.warn('Redis subscriber connection error', { error: e.message }));
      this.subscriber.on('message', (ch: string, message: string) => { for (const l of this.listeners.get(ch) ?? []) l(message); });
    }
    const sub = this.subscriber;
    return (async () => {
      const set = this.listeners.get(channel) ?? new Set();
      if (set.size === 0) await redisOp(() => sub.subscribe(channel));
      set.add(onMessage);
      this.listeners.set(channel, set);
      return async () => {
        set.delete(onMessage);
        if (set.size === 0) {
          this.listeners.delete(channel);
          await sub.unsubscribe(channel).catch((e: Error) => this.warn('could not unsubscribe from a job channel', { channel, error: e.message }));
        }
      };
    })();
  }

  /** Calls onChange with each new envelope of the job until the returned function is called. */
  subscribe(id: string, onChange: (e: JobEnvelope) => void): Promise<() => Promise<void>> {
    return this.listen(this.keys.jobChannel(id), (m) => onChange(decodeJson(m)));
  }

  /** Calls onPreview with each live preview of the job until the returned function is called. */
  subscribePreviews(id: string, onPreview: (p: Preview) => void): Promise<() => Promise<void>> {
    return this.listen(this.keys.previewChannel(id), (m) => onPreview(JSON.parse(m) as Preview));
  }

  async counts(): Promise<Record<JobStatus | 'waiting' | 'active' | 'delayed', number>> {
    return redisOp(async () => {
      const c = await this.render.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
      return {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0,
        queued: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0), running: c.active ?? 0,
        succeeded: c.completed ?? 0, failed: c.failed ?? 0, canceled: 0,
      };
    });
  }

  async registerWorker(info: Omit<WorkerInfo, 'lastSeen'>): Promise<void> {
    await this.redis.hset(this.keys.workers, info.id, JSON.stringify({ ...info, lastSeen: Date.now() }));
  }

  async unregisterWorker(id: string): Promise<void> {
    await this.redis.hdel(this.keys.workers, id);
  }

  /** Workers with a recent heartbeat; entries of workers silent for longer than WORKER_FORGET_MS are removed. */
  async workers(): Promise<WorkerInfo[]> {
    return redisOp(async () => {
      const all = await this.redis.hgetall(this.keys.workers);
      const now = Date.now();
      const infos = Object.values(all).map((v) => JSON.parse(v) as WorkerInfo);
      const dead = infos.filter((w) => now - w.lastSeen > WORKER_FORGET_MS).map((w) => w.id);
      if (dead.length > 0) await this.redis.hdel(this.keys.workers, ...dead);
      return infos.filter((w) => now - w.lastSeen < WORKER_TTL_MS);
    });
  }

  /** Tells every live worker to unload or reload its sessions (A1111's unload-checkpoint / reload-checkpoint). */
  async commandWorkers(cmd: WorkerCommand): Promise<void> {
    await redisOp(() => this.redis.publish(this.keys.workerCommandChannel, cmd));
  }

  /** A per-user budget of `perMinute` requests shared by every gateway (GCRA in Redis); `budget` names it. */
  rateLimiter(budget: string, perMinute: number): RateLimiter {
    return new RateLimiter(this.redis, (user) => this.keys.rateLimit(budget, user), perMinute);
  }

  async ping(): Promise<void> {
    await redisOp(() => this.redis.ping());
  }

  /** Cuts every connection at once, without waiting for Redis (a shutdown while Redis is down or hung). */
  disconnect(): void {
    this.closed = true;
    this.subscriber?.disconnect();
    this.redis.disconnect();
    this.queueConnection.disconnect();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.render.close(), this.webhooks.close()]);
    this.subscriber?.disconnect();
    this.redis.disconnect();
    this.queueConnection.disconnect();
  }
}
