// The queue as the gateway and the workers see it: submit, read, list, cancel, subscribe, counts, worker heartbeats.
// Envelopes are read through JobStore and changed only through JobLifecycle; the work itself is a BullMQ job with the
// same id on its model's render queue (FarmKeys.renderQueue), so workers can take the models they hold warm first.
import { randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueFullError, RateLimitedError, UnavailableError, resolveJob, type GenerationParams } from '@farm/core';
import { JobStore } from './job-store';
import { A1111Store } from './a1111-store';
import { PreviewStore, type Preview } from './preview-store';
import { JobLifecycle, defineLifecycleScripts, isTerminal, type AdmitReply } from './lifecycle';
import { decodeJson } from './envelope-codec';
import { FarmKeys, bullmqKeys } from './keys';
import { RateLimiter, RateRefusal, type Budget, type PlannedSpend } from './rate-limiter';
import { WebhookEmitter, WEBHOOK_QUEUE } from './webhook-queue';
import { inOneWrite, redisOp, requestConnection, whenReady } from './redis';
import type { DeliveryJobData, JobEnvelope, JobStatus, RenderJobData, WebhookEvent, WorkerCommand, WorkerInfo } from './types';

const WORKER_TTL_MS = 15_000;
/** a worker silent this long is not coming back under its id (ids carry the pid): its entry is dropped */
const WORKER_FORGET_MS = 5 * 60_000;
const USER_CAP_RETRY_SECONDS = 5;

/**
 * BullMQ starts a queue by asking Redis its version (INFO) and keeps a queue whose start failed (a paused Redis, a
 * socket that just died) failed for good: every later command of it rejects. Without the question, a queue on the
 * farm's connection can fail to start only once that connection is closed. (The workers' BullMQ Workers still check
 * the version when a worker starts.)
 */
const SHARED_QUEUE = { skipVersionCheck: true } as const;

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
  /** longest wait for a Redis answer before a request fails (default 2000 ms) */
  commandTimeoutMs?: number;
}

export interface SubmitOptions {
  owner: string;
  webhook?: { url: string; events?: WebhookEvent[] };
  priority?: number;
  idempotencyKey?: string;
  /** the submitting request's id, kept on the envelope so worker log lines can be joined to the access log */
  requestId?: string;
  /** the job's id (a submit-and-stream call subscribes to the job's channel before submitting); default a new UUID */
  id?: string;
  /**
   * the caller's rate-limit budgets (RateLimiter.plan), spent by the admit script in the same step: no round trip of
   * their own. A refusal throws RateRefusal, and nothing is queued.
   */
  spend?: PlannedSpend;
}

/** How often the list of models with a render queue is read again (the queue cap and the counts sum over it). */
const MODELS_REFRESH_MS = 5000;

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
  readonly webhooks: Queue<DeliveryJobData>;
  private subscriber: Redis | null = null;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  /** the SUBSCRIBE or PSUBSCRIBE of each channel or pattern, made once and awaited by every caller (gone: not made, or lost) */
  private readonly subscriptions = new Map<string, Promise<void>>();
  private closed = false;
  private readonly queueConnection: Redis;
  private readonly renderQueues = new Map<string, Queue<RenderJobData>>();
  private knownModels: { at: number; models: Set<string> } = { at: 0, models: new Set() };
  private refreshingModels: Promise<void> | null = null;

  constructor(private readonly opts: FarmQueueOptions) {
    this.prefix = opts.prefix ?? 'farm';
    this.keys = new FarmKeys(this.prefix);
    // Connection errors surface as rejected commands (redisOp turns them into 503s); the events are only logged,
    // once per outage.
    let down = false;
    const onError = (e: Error) => {
      if (!down) {
        down = true;
        this.warn('Redis connection error', { error: e.message });
      }
    };
    this.redis = requestConnection(opts.redisUrl, opts.commandTimeoutMs);
    this.redis.on('error', onError).on('ready', () => {
      down = false;
    });
    const connection = requestConnection(opts.redisUrl, opts.commandTimeoutMs);
    connection.on('error', onError);
    this.queueConnection = connection;
    // the admit script runs on the render queues' connection, in one write with BullMQ's add (see submit)
    defineLifecycleScripts(connection);
    this.onQueueError = onError;
    this.webhooks = new Queue<DeliveryJobData>(WEBHOOK_QUEUE, { connection, prefix: this.prefix, ...SHARED_QUEUE });
    this.webhooks.on('error', onError);
    this.store = new JobStore(this.redis, this.keys);
    this.emitter = new WebhookEmitter(this.webhooks);
    this.lifecycle = this.lifecycleOn(this.redis);
    this.a1111 = new A1111Store(this.redis, this.keys);
    this.previews = new PreviewStore(this.redis, this.keys);
  }

  private readonly onQueueError: (e: Error) => void;
  private readonly emitter: WebhookEmitter;

  /**
   * The life cycle on a connection of the caller's: its transitions go out in order with that connection's other
   * commands (a worker's result and BullMQ's completion of the job, written together: one round trip).
   */
  lifecycleOn(connection: Redis): JobLifecycle {
    return new JobLifecycle(connection, this.keys, this.emitter, (msg, fields) => this.warn(msg, fields));
  }

  /**
   * The BullMQ render queue of one model (created on first use; all share one connection). For its keys only: a
   * command goes through readyRenderQueue.
   */
  renderQueue(model: string): Queue<RenderJobData> {
    let q = this.renderQueues.get(model);
    if (!q) {
      q = new Queue<RenderJobData>(this.keys.renderQueue(model), { connection: this.queueConnection, prefix: this.prefix, ...SHARED_QUEUE });
      q.on('error', this.onQueueError);
      this.renderQueues.set(model, q);
    }
    return q;
  }

  /**
   * The render queue of one model, its connection up. BullMQ waits for a connection that is not up for as long as it
   * takes: a connection that has been up and is down is a 503 at once (its offline queue is off, see
   * requestConnection), and one still making its first connect gets the command timeout to come up (Redis killed
   * while the gateway was starting would otherwise hang the request for as long as Redis is away).
   */
  private async readyRenderQueue(model: string): Promise<Queue<RenderJobData>> {
    const connection = this.queueConnection;
    if (connection.status !== 'ready') {
      if (connection.options.enableOfflineQueue === false) throw new UnavailableError(`Redis is unreachable (connection ${connection.status})`);
      await whenReady(connection, this.opts.commandTimeoutMs);
    }
    const queue = this.renderQueue(model);
    await queue.client;
    return queue;
  }

  /** Models that have a render queue (read from Redis at most every MODELS_REFRESH_MS; `fresh` reads now). */
  async models(fresh = false): Promise<string[]> {
    if (fresh || Date.now() - this.knownModels.at > MODELS_REFRESH_MS) await this.refreshModels();
    return [...this.knownModels.models];
  }

  private refreshModels(): Promise<void> {
    this.refreshingModels ??= (async () => {
      try {
        const models = await this.redis.smembers(this.keys.renderModels);
        this.knownModels = { at: Date.now(), models: new Set([...models, ...this.knownModels.models]) };
      } finally {
        this.refreshingModels = null;
      }
    })();
    return this.refreshingModels;
  }

  private warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.opts.log?.(msg, fields);
  }

  /**
   * Admits a job and adds its BullMQ job to its model's render queue in one round trip: one write on one
   * connection, the admit script first (idempotency claim, queue and per-owner caps, envelope) and BullMQ's add after
   * it, so a worker can never take a job whose envelope does not exist yet. A refused admission (rare: a cap, a
   * duplicate idempotency key) removes the job it added; a worker that took it meanwhile finds no envelope and drops it.
   */
  async submit(params: GenerationParams, opts: SubmitOptions): Promise<JobEnvelope> {
    return redisOp(async () => {
      if (Date.now() - this.knownModels.at > MODELS_REFRESH_MS) {
        // the cap sums the queues known a moment ago; reading them again never delays a submission
        this.refreshModels().catch((e: Error) => this.warn('could not read the models with a render queue', { error: e.message }));
      }
      for (let tries = 0; ; tries++) {
        const envelope = this.newEnvelope(tries === 0 && opts.id ? opts.id : randomUUID(), params, opts);
        const limits = { maxQueued: this.opts.maxQueued ?? 0, maxUnfinished: this.opts.maxQueuedPerUser ?? 0, idempotencyKey: opts.idempotencyKey };
        // the budgets are spent once per submission, by its first admit
        let admitted = await this.admitAndAdd(envelope, params, opts, limits, tries === 0 ? opts.spend : undefined);
        if (admitted.outcome === 'rate_limited') throw new RateRefusal(opts.spend!.decide(admitted.budget, admitted.waitMs));
        if (admitted.outcome === 'user_cap' && (await this.store.pruneUnfinished(opts.owner)) > 0)
          admitted = await this.admitAndAdd(envelope, params, opts, limits);
        if (admitted.outcome === 'duplicate') {
          const prior = await this.get(admitted.id);
          if (prior) return prior;
          if (tries < 3) continue; // the first one was withdrawn meanwhile: admit afresh
        }
        if (admitted.outcome === 'queue_full') throw new QueueFullError(`the queue is full (${admitted.waiting} jobs waiting); try again later`);
        if (admitted.outcome === 'user_cap') {
          throw new RateLimitedError(
            `you already have ${this.opts.maxQueuedPerUser} jobs queued or running (the per-user limit); wait for some to finish or cancel some`,
            USER_CAP_RETRY_SECONDS,
            'too_many_jobs',
          );
        }
        if (admitted.outcome !== 'admitted' || !('prioritized' in admitted)) throw new Error(`unexpected admission outcome ${admitted.outcome}`);
        // BullMQ takes the wait list first (FIFO), then prioritized jobs by priority: a prioritized job's place is at most this
        const position = admitted.waiting + 1 + (opts.priority ? admitted.prioritized : 0);
        return { ...envelope, queue_position: position };
      }
    });
  }

  private async admitAndAdd(
    envelope: JobEnvelope,
    params: GenerationParams,
    opts: SubmitOptions,
    limits: { maxQueued: number; maxUnfinished: number; idempotencyKey?: string },
    spend?: PlannedSpend,
  ): Promise<AdmitReply> {
    const model = params.model;
    const queue = await this.readyRenderQueue(model);
    const others = [...this.knownModels.models].filter((m) => m !== model).map((m) => bullmqKeys(this.renderQueue(m)));
    const client = await queue.client;
    const args = this.lifecycle.admitArgs(envelope, limits, { model, jobKey: queue.toKey(envelope.id), depth: [bullmqKeys(queue), ...others] }, spend);
    const data: RenderJobData = { id: envelope.id, owner: envelope.owner, ...resolveJob(params) };
    // the job's name is its batch key: a worker gathering a batch reads the next jobs' names, not their data
    const job = new Job<RenderJobData>(
      queue,
      data.batchKey,
      data,
      {
        jobId: envelope.id,
        ...(opts.priority ? { priority: opts.priority } : {}),
        attempts: this.opts.attempts ?? 3,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 3600, count: 10000 },
        removeOnFail: { age: 24 * 3600 },
      },
      envelope.id,
    );
    // Both commands are written now, in this order, on one connection (Redis runs them in that order), in one write
    // (an ioredis pipeline would copy every script BullMQ defines on the connection, ~0.2 ms per submission). BullMQ's
    // add sends its command before its first await. (ioredis sends a script's whole text the first time on each socket,
    // so after a reconnect the order holds too.)
    const [admit, add] = inOneWrite(this.queueConnection, (): [Promise<unknown>, Promise<unknown>] => {
      const admitted = (this.queueConnection as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).farm_admit(...args);
      try {
        return [admitted, job.addJob(client)];
      } catch (e) {
        // BullMQ checks the job's options before it sends anything: the admission is withdrawn below
        return [admitted, Promise.reject(e as Error)];
      }
    });
    const [admitSettled, addSettled] = await Promise.allSettled([admit, add]);
    const admitError = admitSettled.status === 'rejected' ? (admitSettled.reason as Error) : null;
    const addError = addSettled.status === 'rejected' ? (addSettled.reason as Error) : null;
    const reply = admitSettled.status === 'fulfilled' ? admitSettled.value : null;
    if (admitError) {
      if (!addError)
        await queue
          .remove(envelope.id)
          .catch((e: Error) => this.warn('could not remove a job whose admission failed', { jobId: envelope.id, error: e.message }));
      throw admitError;
    }
    const admitted = JobLifecycle.parseAdmit(reply);
    if (addError) {
      // a refused submission must not pin its idempotency key to a job that never existed
      if (admitted.outcome === 'admitted') {
        await this.lifecycle
          .withdraw(envelope, opts.idempotencyKey)
          .catch((w: Error) => this.warn('could not withdraw a job BullMQ refused', { jobId: envelope.id, error: w.message }));
      }
      throw addError;
    }
    // a refused spend kept BullMQ from adding the job (see ADMIT)
    if (admitted.outcome !== 'admitted' && admitted.outcome !== 'rate_limited') {
      await queue
        .remove(envelope.id)
        .catch((e: Error) => this.warn('could not remove the job of a refused admission; a worker drops it', { jobId: envelope.id, error: e.message }));
    }
    this.knownModels.models.add(model);
    return admitted;
  }

  private newEnvelope(id: string, params: GenerationParams, opts: SubmitOptions): JobEnvelope {
    const { init_image, inpaint, ...rest } = params;
    const { mask: _mask, ...inpaintFields } = inpaint ?? { mask: '' };
    const input: JobEnvelope['input'] = {
      ...rest,
      has_init_image: init_image !== undefined,
      ...(inpaint ? { inpaint: { ...(inpaintFields as Omit<typeof inpaint, 'mask'>), has_mask: true as const } } : {}),
    };
    return {
      id,
      owner: opts.owner,
      status: 'queued',
      input,
      output: null,
      error: null,
      progress: null,
      queue_position: null,
      webhook: opts.webhook ? { url: opts.webhook.url, events: opts.webhook.events ?? ['start', 'completed'] } : null,
      deliveries: [],
      cancel_requested: false,
      created_at: new Date().toISOString(),
      started_at: null,
      completed_at: null,
      worker_id: null,
      attempts: 0,
      batch_size: null,
      ...(opts.requestId ? { request_id: opts.requestId } : {}),
    };
  }

  /**
   * 1-based place among waiting jobs, or null when not waiting. BullMQ takes jobs without a priority first, FIFO from
   * the tail of the wait list, then prioritized ones by score; native list and sorted-set lookups keep this cheap.
   */
  async position(id: string, model: string): Promise<number | null> {
    const { wait, prioritized } = bullmqKeys(this.renderQueue(model));
    const [[, length], [, index], [, rank]] = (await this.redis.multi().llen(wait).lpos(wait, id).zrank(prioritized, id).exec()) as [unknown, number | null][];
    if (index !== null) return (length as number) - (index as number);
    if (rank !== null) return (length as number) + (rank as number) + 1;
    return null;
  }

  async get(id: string): Promise<JobEnvelope | null> {
    return redisOp(async () => {
      const e = await this.store.get(id);
      if (!e) return null;
      return e.status === 'queued' ? { ...e, queue_position: await this.position(id, e.input.model) } : e;
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
      const job = await (await this.readyRenderQueue(e.input.model)).getJob(id);
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

  /**
   * The one pub/sub connection of this queue, with listeners by channel. Job envelopes come through one pattern
   * subscription to every job's channel (made once; made again after the connection closes), so subscribing to
   * a job is local and free; live previews, rarer and larger, through a subscription per channel.
   */
  private connectSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = requestConnection(this.opts.redisUrl, this.opts.commandTimeoutMs);
    sub.on('error', (e) => this.warn('Redis subscriber connection error', { error: e.message }));
    // ioredis resubscribes after a reconnect; forgetting them makes the next caller wait until it has, or fail fast
    sub.on('close', () => this.subscriptions.clear());
    const dispatch = (channel: string, message: string) => {
      for (const l of this.listeners.get(channel) ?? []) l(message);
    };
    sub.on('message', dispatch);
    sub.on('pmessage', (_pattern: string, channel: string, message: string) => dispatch(channel, message));
    this.subscriber = sub;
    return sub;
  }

  private addListener(channel: string, onMessage: (message: string) => void): () => Set<(message: string) => void> {
    const set = this.listeners.get(channel) ?? new Set();
    set.add(onMessage);
    this.listeners.set(channel, set);
    return () => {
      set.delete(onMessage);
      if (set.size === 0 && this.listeners.get(channel) === set) this.listeners.delete(channel);
      return set;
    };
  }

  /**
   * Subscribes `sub` once (`kind` channel or pattern) on a ready connection: a command queued while Redis is down,
   * then timed out, would still be sent later. Every caller waits for the same command; a failed one is forgotten.
   */
  private subscribeOnce(sub: Redis, kind: 'channel' | 'pattern', name: string): Promise<void> {
    const key = `${kind}:${name}`;
    let made = this.subscriptions.get(key);
    if (!made) {
      const attempt = whenReady(sub, this.opts.commandTimeoutMs).then(() =>
        redisOp(() => (kind === 'pattern' ? sub.psubscribe(name) : sub.subscribe(name))).then(() => undefined),
      );
      made = attempt;
      this.subscriptions.set(key, attempt);
      attempt.catch(() => {
        if (this.subscriptions.get(key) === attempt) this.subscriptions.delete(key);
      });
    }
    return made;
  }

  private async listen(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const sub = this.connectSubscriber();
    await this.subscribeOnce(sub, 'channel', channel);
    const remove = this.addListener(channel, onMessage);
    return async () => {
      if (remove().size > 0 || this.listeners.has(channel)) return;
      this.subscriptions.delete(`channel:${channel}`);
      await sub.unsubscribe(channel).catch((e: Error) => this.warn('could not unsubscribe from a channel', { channel, error: e.message }));
    };
  }

  /** Calls onChange with each new envelope of the job until the returned function is called. */
  async subscribe(id: string, onChange: (e: JobEnvelope) => void): Promise<() => Promise<void>> {
    await this.subscribeOnce(this.connectSubscriber(), 'pattern', this.keys.jobChannelPattern);
    const remove = this.addListener(this.keys.jobChannel(id), (m) => onChange(decodeJson(m)));
    return async () => void remove();
  }

  /** Calls onPreview with each live preview of the job until the returned function is called. */
  subscribePreviews(id: string, onPreview: (p: Preview) => void): Promise<() => Promise<void>> {
    return this.listen(this.keys.previewChannel(id), (m) => onPreview(JSON.parse(m) as Preview));
  }

  /** The BullMQ job of a job id (in its model's render queue), if it is still there. */
  async renderJob(id: string): Promise<Job<RenderJobData> | undefined> {
    const e = await this.store.get(id);
    return e ? (await this.readyRenderQueue(e.input.model)).getJob(id) : undefined;
  }

  /** BullMQ's state of a job ('unknown' when its queue entry is gone). */
  async jobState(id: string): Promise<string> {
    const e = await redisOp(() => this.store.get(id));
    return e ? redisOp(async () => (await this.readyRenderQueue(e.input.model)).getJobState(id)) : 'unknown';
  }

  /** Render queue depth by state, summed over every model's queue. */
  async counts(): Promise<Record<JobStatus | 'waiting' | 'active' | 'delayed', number>> {
    const sum = { waiting: 0, active: 0, delayed: 0, queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0 };
    for (const c of Object.values(await this.countsByModel())) {
      for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += c[k];
    }
    return sum;
  }

  /** Render queue depth by state for each model with a queue (the per-model metric autoscaling reads). */
  async countsByModel(): Promise<Record<string, Record<JobStatus | 'waiting' | 'active' | 'delayed', number>>> {
    return redisOp(async () => {
      const out: Record<string, Record<JobStatus | 'waiting' | 'active' | 'delayed', number>> = {};
      for (const model of await this.models(true)) {
        const c = await (await this.readyRenderQueue(model)).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
        out[model] = {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          queued: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0),
          running: c.active ?? 0,
          succeeded: c.completed ?? 0,
          failed: c.failed ?? 0,
          canceled: 0,
        };
      }
      return out;
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

  /** Per-user budgets of requests per minute shared by every gateway (GCRA in Redis), spent in one round trip. */
  rateLimiter(budgets: readonly Budget[]): RateLimiter {
    return new RateLimiter(this.redis, (budget, user) => this.keys.rateLimit(budget, user), budgets);
  }

  async ping(): Promise<void> {
    await redisOp(() => this.redis.ping());
  }

  /** Resolves once the request and queue connections are both up (UnavailableError after `timeoutMs` each). */
  async whenReady(timeoutMs?: number): Promise<void> {
    await Promise.all([whenReady(this.redis, timeoutMs), whenReady(this.queueConnection, timeoutMs)]);
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
    await Promise.allSettled([...[...this.renderQueues.values()].map((q) => q.close()), this.webhooks.close()]);
    this.subscriber?.disconnect();
    this.redis.disconnect();
    this.queueConnection.disconnect();
  }
}
