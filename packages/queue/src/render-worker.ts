// Pulls render jobs with BullMQ's manual fetching, gathers up to maxBatch waiting jobs that share a batch key,
// runs them as one engine batch and completes each with its own result. Locks are extended while a batch runs;
// a killed worker's jobs are recovered by the stalled-job check of the others.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { FarmError, type GenerationParams } from '@farm/core';
import { FarmQueue, RENDER_QUEUE } from './farm-queue';
import { batchKey } from './batch-key';
import { blockingConnection, requestConnection } from './redis';
import type { RenderJobData, WorkerCommand } from './types';

export interface RenderEngine {
  listModels(): { name: string }[];
  listLoras(): { name: string }[];
  listUpscalers?(): { name: string }[];
  validate(params: GenerationParams): void;
  /** A1111's unload-checkpoint: release every loaded session */
  unloadModels?(): Promise<void>;
  /** A1111's reload-checkpoint: load the sessions of a model again */
  loadModel?(name: string): Promise<void>;
  generate(items: { id: string; params: GenerationParams }[], hooks: { onStep?(step: number, steps: number): void; isCanceled?(id: string): boolean }):
    Promise<{ id: string; images: Buffer[]; seeds: number[]; infotexts: string[]; canceled: boolean }[]>;
}

export interface RenderWorkerOptions {
  redisUrl: string;
  prefix?: string;
  workerId?: string;
  maxBatch: number;
  engine: RenderEngine;
  /** stores a job's images; returns their storage keys */
  storeImages(jobId: string, images: Buffer[]): Promise<string[]>;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  heartbeatMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Held { job: Job<RenderJobData>; token: string }

export class RenderWorker {
  readonly id: string;
  private readonly queue: FarmQueue;
  private readonly worker: Worker<RenderJobData>;
  private readonly cancelSub: Redis;
  private readonly connection: Redis;
  private readonly canceled = new Set<string>();
  private readonly held = new Map<string, Held>();
  private pending: Held[] = [];
  private loop: Promise<void> | null = null;
  private closing = false;
  private loadedModel: string | null = null;
  private busy = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly lockMs: number;

  constructor(private readonly opts: RenderWorkerOptions) {
    this.id = opts.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.lockMs = opts.lockDurationMs ?? 30_000;
    this.queue = new FarmQueue({ redisUrl: opts.redisUrl, prefix: opts.prefix });
    this.connection = blockingConnection(opts.redisUrl);
    this.connection.on('error', () => {});
    this.worker = new Worker<RenderJobData>(RENDER_QUEUE, null, {
      connection: this.connection, prefix: this.queue.prefix, autorun: false,
      lockDuration: this.lockMs, stalledInterval: opts.stalledIntervalMs ?? 30_000, maxStalledCount: 2, drainDelay: 1,
    });
    this.worker.on('error', (e) => this.log('bullmq error', { error: e.message }));
    // A job that lost its worker more than maxStalledCount times (one that crashes workers) is failed by BullMQ
    // inside getNextJob and never reaches us; its envelope must still end.
    this.worker.on('failed', (job) => {
      if (!job?.deferredFailure) return;
      const error = `the job stopped its worker ${job.stalledCounter} times and is not retried again (${job.deferredFailure})`;
      this.log('job failed', { jobId: job.id, error, willRetry: false });
      this.queue.store.update(job.id!, { status: 'failed', error, completed_at: new Date().toISOString(), progress: null })
        .catch((e) => this.log('could not record a failed job', { jobId: job.id, error: (e as Error).message }));
    });
    this.cancelSub = requestConnection(opts.redisUrl);
    this.cancelSub.on('error', () => {});
    this.cancelSub.on('message', (channel: string, message: string) => {
      if (channel === this.queue.workerCommandChannel) this.command(message as WorkerCommand);
      else this.canceled.add(message);
    });
  }

  private commands: WorkerCommand[] = [];

  /** unload/reload from A1111's unload-checkpoint and reload-checkpoint: applied between batches. */
  private command(cmd: WorkerCommand): void {
    this.commands.push(cmd);
    if (!this.busy) this.applyCommands().catch((e) => this.log('worker command failed', { error: (e as Error).message }));
  }

  private async applyCommands(): Promise<void> {
    while (this.commands.length > 0) {
      const cmd = this.commands.shift()!;
      if (cmd === 'unload') await this.opts.engine.unloadModels?.();
      else if (cmd === 'reload' && this.loadedModel) await this.opts.engine.loadModel?.(this.loadedModel);
      this.log('worker command applied', { command: cmd });
    }
  }

  private log(msg: string, fields: Record<string, unknown> = {}): void {
    this.opts.log?.(msg, { workerId: this.id, ...fields });
  }

  async start(): Promise<void> {
    await this.cancelSub.subscribe(`${this.queue.prefix}:cancel`, this.queue.workerCommandChannel);
    await this.heartbeat();
    this.worker.startStalledCheckTimer().catch((e) => this.log('stalled check stopped', { error: (e as Error).message }));
    this.timers.push(setInterval(() => { this.heartbeat().catch(() => {}); }, this.opts.heartbeatMs ?? 5000));
    this.timers.push(setInterval(() => { this.extendLocks(); }, Math.max(500, this.lockMs / 3)));
    this.loop = this.run();
  }

  private async heartbeat(): Promise<void> {
    await this.queue.registerWorker({
      id: this.id, host: hostname(), models: this.opts.engine.listModels().map((m) => m.name), loras: this.opts.engine.listLoras().map((l) => l.name), upscalers: this.opts.engine.listUpscalers?.().map((u) => u.name) ?? [],
      loadedModel: this.loadedModel, busy: this.busy,
    });
  }

  private extendLocks(): void {
    for (const { job, token } of [...this.held.values(), ...this.pending]) job.extendLock(token, this.lockMs).catch(() => {});
  }

  private async fetch(block: boolean): Promise<Held | null> {
    const token = randomUUID();
    const job = (await this.worker.getNextJob(token, { block })) as Job<RenderJobData> | undefined;
    return job ? { job, token } : null;
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      let first: Held | null = null;
      try {
        const preferred = this.pending.findIndex((h) => h.job.data.params.model === this.loadedModel);
        first = this.pending.length > 0 ? this.pending.splice(Math.max(0, preferred), 1)[0] : await this.fetch(true);
        if (!first) continue;
        const key = batchKey(first.job.data.params);
        const batch = [first, ...this.pending.filter((h) => batchKey(h.job.data.params) === key)].slice(0, this.opts.maxBatch);
        this.pending = this.pending.filter((h) => !batch.includes(h));
        while (batch.length < this.opts.maxBatch && !this.closing && this.pending.length === 0) {
          const next = await this.fetch(false);
          if (!next) break;
          if (batchKey(next.job.data.params) === key) batch.push(next);
          else this.pending.push(next);
        }
        await this.runBatch(batch);
      } catch (e) {
        this.log('worker loop error', { error: (e as Error).message });
        if (!this.closing) await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async runBatch(batch: Held[]): Promise<void> {
    for (const h of batch) this.held.set(h.job.id!, h);
    this.busy = true;
    try {
      const runnable: Held[] = [];
      for (const h of batch) {
        const id = h.job.id!;
        const envelope = await this.queue.store.get(id);
        if (!envelope || envelope.status === 'canceled' || this.canceled.has(id) || await this.queue.isCancelRequested(id)) {
          await this.queue.store.update(id, { status: 'canceled', completed_at: new Date().toISOString(), progress: null });
          await h.job.moveToCompleted({ canceled: true }, h.token, false);
          continue;
        }
        try {
          this.opts.engine.validate(h.job.data.params);
          runnable.push(h);
        } catch (e) {
          await this.fail(h, e as Error, true);
        }
      }
      if (runnable.length === 0) return;
      this.loadedModel = runnable[0].job.data.params.model;
      const started = Date.now();
      for (const h of runnable) {
        await this.queue.store.update(h.job.id!, (e) => ({
          status: 'running', started_at: new Date(started).toISOString(), worker_id: this.id, attempts: e.attempts + 1,
          batch_size: runnable.length, queue_position: null, progress: { step: 0, steps: h.job.data.params.steps, eta_seconds: null },
        }));
      }
      await this.generate(runnable, started);
    } finally {
      for (const h of batch) this.held.delete(h.job.id!);
      this.busy = false;
      await this.applyCommands().catch((e) => this.log('worker command failed', { error: (e as Error).message }));
    }
  }

  private async generate(runnable: Held[], started: number): Promise<void> {
    let lastReport = 0;
    const progressUpdates: Promise<unknown>[] = [];
    const onStep = (step: number, steps: number) => {
      const now = Date.now();
      if (step !== steps && now - lastReport < 200) return;
      lastReport = now;
      const eta = ((now - started) / 1000 / step) * (steps - step);
      for (const h of runnable) {
        if (!this.canceled.has(h.job.id!)) progressUpdates.push(this.queue.store.update(h.job.id!, { progress: { step, steps, eta_seconds: Math.round(eta * 10) / 10 } }).catch(() => {}));
      }
    };
    let results;
    try {
      results = await this.opts.engine.generate(runnable.map((h) => ({ id: h.job.id!, params: h.job.data.params })), { onStep, isCanceled: (id) => this.canceled.has(id) });
    } catch (e) {
      await Promise.all(progressUpdates);
      if (runnable.length > 1) {
        this.log('batch failed; running its jobs one by one', { error: (e as Error).message });
        for (const h of runnable) await this.generate([h], Date.now());
      } else {
        await this.fail(runnable[0], e as Error, e instanceof FarmError && e.status < 500);
      }
      return;
    }
    await Promise.all(progressUpdates);
    for (const r of results) {
      const h = runnable.find((x) => x.job.id === r.id)!;
      try {
        if (r.canceled) {
          await this.queue.store.update(r.id, { status: 'canceled', completed_at: new Date().toISOString() });
          await h.job.moveToCompleted({ canceled: true }, h.token, false);
          continue;
        }
        const keys = await this.opts.storeImages(r.id, r.images);
        await this.queue.store.update(r.id, { status: 'succeeded', completed_at: new Date().toISOString(), output: { images: keys, seeds: r.seeds, infotexts: r.infotexts }, error: null });
        await h.job.moveToCompleted({ images: keys }, h.token, false);
      } catch (e) {
        await this.fail(h, e as Error, false);
      }
    }
  }

  /** Fails a job: bad input never retries; runtime faults retry with backoff until attempts run out. */
  private async fail(h: Held, error: Error, unrecoverable: boolean): Promise<void> {
    const attempts = h.job.opts.attempts ?? 1;
    const willRetry = !unrecoverable && h.job.attemptsMade + 1 < attempts;
    this.log('job failed', { jobId: h.job.id, error: error.message, willRetry });
    await this.queue.store.update(h.job.id!, willRetry
      ? { status: 'queued', error: `attempt ${h.job.attemptsMade + 1} failed: ${error.message}; retrying`, progress: null }
      : { status: 'failed', error: error.message, completed_at: new Date().toISOString(), progress: null });
    await h.job.moveToFailed(unrecoverable ? new UnrecoverableError(error.message) : error, h.token, false).catch((e) => this.log('moveToFailed', { error: (e as Error).message }));
  }

  /** Stops taking jobs, finishes the running batch, hands back fetched-but-unstarted jobs. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closing) { await this.loop; return; }
    this.closing = true;
    await this.loop;
    for (const h of this.pending) await h.job.moveToDelayed(Date.now(), h.token).catch(() => {});
    this.pending = [];
    for (const t of this.timers) clearInterval(t);
    await this.queue.unregisterWorker(this.id).catch(() => {});
    await this.worker.close();
    this.connection.disconnect();
    this.cancelSub.disconnect();
    await this.queue.close();
  }
}
