// Pulls render jobs with BullMQ's manual fetching, gathers up to maxBatch waiting jobs that share a batch key,
// runs them as one engine batch and completes each with its own result. Every status change goes through the
// queue's life cycle; errors are sorted by the taxonomy of @farm/core (bad input and bugs are not retried). Locks
// are extended while a batch runs; a killed worker's jobs are recovered by the stalled-job check of the others.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { TransientError, errorKind, isRetryable, isTerminal, type GenerationParams, type JobEnvelope } from '@farm/core';
import { FarmQueue, RENDER_QUEUE } from './farm-queue';
import { blockingConnection, requestConnection } from './redis';
import type { JobRef, Transition } from './lifecycle';
import type { RenderJobData, WorkerCommand } from './types';

export interface RenderEngine {
  listModels(): { name: string }[];
  sizeMultiple?(model: string): number;
  hiddenStates?(model: string): number;
  listLoras(): { name: string }[];
  listUpscalers?(): { name: string }[];
  validate(params: GenerationParams): void;
  /** A1111's unload-checkpoint: release every loaded session */
  unloadModels?(): Promise<void>;
  /** A1111's reload-checkpoint: load the sessions of a model again */
  loadModel?(name: string): Promise<void>;
  generate(items: { id: string; params: GenerationParams }[], hooks: {
    onStep?(step: number, steps: number): void; isCanceled?(id: string): boolean;
    interrupted?(id: string): boolean; skips?(id: string): number; onPreview?(id: string, step: number, png: Buffer): void;
  }):
    Promise<{ id: string; images: Buffer[]; seeds: number[]; infotexts: string[]; canceled: boolean }[]>;
}

export type LogLevel = 'info' | 'warn' | 'error';

/** What a worker does, for its metrics and its liveness probe (the worker package turns these into Prometheus). */
export interface RenderObserver {
  /** the fetch loop went round (idle workers tick at least once per blocking fetch) */
  tick?(): void;
  batchStarted?(info: { size: number; model: string }): void;
  /** one denoising step of a batch of `rows` images */
  step?(rows: number): void;
  /** a job this worker ended (succeeded, failed or canceled), as its envelope now reads */
  jobEnded?(envelope: JobEnvelope): void;
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
  /** retry delay of a job whose result is written but whose completion could not be finished (no attempt spent) */
  settleRetryMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>, level?: LogLevel) => void;
  observer?: RenderObserver;
}

interface Held { job: Job<RenderJobData>; token: string }

const ref = (h: Held): JobRef => ({ id: h.job.id!, owner: h.job.data.owner });

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
    this.queue = new FarmQueue({ redisUrl: opts.redisUrl, prefix: opts.prefix, log: (msg, fields) => this.log(msg, fields, 'warn') });
    this.connection = blockingConnection(opts.redisUrl);
    this.connection.on('error', (e) => this.log('Redis connection error (blocking connection)', { error: e.message }, 'warn'));
    this.worker = new Worker<RenderJobData>(RENDER_QUEUE, null, {
      connection: this.connection, prefix: this.queue.prefix, autorun: false,
      lockDuration: this.lockMs, stalledInterval: opts.stalledIntervalMs ?? 30_000, maxStalledCount: 2, drainDelay: 1,
    });
    this.worker.on('error', (e) => this.log('bullmq error', { error: e.message }, 'warn'));
    // A job that lost its worker more than maxStalledCount times (one that crashes workers) is failed by BullMQ
    // inside getNextJob and never reaches us; its envelope must still end.
    this.worker.on('failed', (job) => {
      if (!job?.deferredFailure) return;
      const error = `the job stopped its worker ${job.stalledCounter} times and is not retried again (${job.deferredFailure})`;
      this.log('job failed', { jobId: job.id, error, willRetry: false }, 'error');
      this.queue.lifecycle.fail({ id: job.id!, owner: job.data.owner }, error)
        .then((t) => { if (t.outcome === 'failed' && t.envelope) this.opts.observer?.jobEnded?.(t.envelope); })
        .catch((e: Error) => this.log('could not record a failed job', { jobId: job.id, error: e.message }, 'error'));
    });
    this.cancelSub = requestConnection(opts.redisUrl);
    this.cancelSub.on('error', (e) => this.log('Redis connection error (cancel subscriber)', { error: e.message }, 'warn'));
    this.cancelSub.on('message', (channel: string, message: string) => {
      if (channel === this.queue.keys.workerCommandChannel) this.command(message as WorkerCommand);
      else if (message.startsWith('interrupt:')) this.interrupted.add(message.slice('interrupt:'.length));
      else if (message.startsWith('skip:')) this.skips.set(message.slice('skip:'.length), (this.skips.get(message.slice('skip:'.length)) ?? 0) + 1);
      else this.canceled.add(message);
    });
  }

  private commands: WorkerCommand[] = [];
  /** A1111 interrupts and skips of running jobs, from the cancel channel */
  private readonly interrupted = new Set<string>();
  private readonly skips = new Map<string, number>();

  /** unload/reload from A1111's unload-checkpoint and reload-checkpoint: applied between batches. */
  private command(cmd: WorkerCommand): void {
    this.commands.push(cmd);
    if (!this.busy) this.applyCommands().catch((e: Error) => this.log('worker command failed', { error: e.message }, 'warn'));
  }

  private async applyCommands(): Promise<void> {
    while (this.commands.length > 0) {
      const cmd = this.commands.shift()!;
      if (cmd === 'unload') await this.opts.engine.unloadModels?.();
      else if (cmd === 'reload' && this.loadedModel) await this.opts.engine.loadModel?.(this.loadedModel);
      this.log('worker command applied', { command: cmd });
    }
  }

  private log(msg: string, fields: Record<string, unknown> = {}, level: LogLevel = 'info'): void {
    this.opts.log?.(msg, { workerId: this.id, ...fields }, level);
  }

  async start(): Promise<void> {
    await this.cancelSub.subscribe(this.queue.keys.cancelChannel, this.queue.keys.workerCommandChannel);
    await this.heartbeat();
    this.worker.startStalledCheckTimer().catch((e: Error) => this.log('stalled check stopped', { error: e.message }, 'error'));
    this.timers.push(setInterval(() => { this.heartbeat().catch((e: Error) => this.log('heartbeat failed', { error: e.message }, 'warn')); }, this.opts.heartbeatMs ?? 5000));
    this.timers.push(setInterval(() => { this.extendLocks(); }, Math.max(500, this.lockMs / 3)));
    this.loop = this.run();
  }

  private async heartbeat(): Promise<void> {
    await this.queue.registerWorker({
      id: this.id, host: hostname(), models: this.opts.engine.listModels().map((m) => m.name), ...this.modelLimits(), loras: this.opts.engine.listLoras().map((l) => l.name), upscalers: this.opts.engine.listUpscalers?.().map((u) => u.name) ?? [],
      loadedModel: this.loadedModel, busy: this.busy,
    });
  }

  /** what each model can run: size multiples other than 8 (fixed 2x upsamplers) and clip-skip hidden states */
  private modelLimits(): { sizeMultiples: Record<string, number>; hiddenStates: Record<string, number> } {
    const sizeMultiples: Record<string, number> = {};
    const hiddenStates: Record<string, number> = {};
    for (const { name } of this.opts.engine.listModels()) {
      try {
        const m = this.opts.engine.sizeMultiple?.(name) ?? 8;
        if (m !== 8) sizeMultiples[name] = m;
        const h = this.opts.engine.hiddenStates?.(name);
        if (h !== undefined) hiddenStates[name] = h;
      } catch { /* a broken model fails its jobs with the reason */ }
    }
    return { sizeMultiples, hiddenStates };
  }

  private extendLocks(): void {
    for (const { job, token } of [...this.held.values(), ...this.pending]) {
      job.extendLock(token, this.lockMs).catch((e: Error) => this.log('could not extend a job lock; another worker may take the job', { jobId: job.id, error: e.message }, 'warn'));
    }
  }

  private async fetch(block: boolean): Promise<Held | null> {
    const token = randomUUID();
    const job = (await this.worker.getNextJob(token, { block })) as Job<RenderJobData> | undefined;
    return job ? { job, token } : null;
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      let first: Held | null = null;
      this.opts.observer?.tick?.();
      try {
        const preferred = this.pending.findIndex((h) => h.job.data.params.model === this.loadedModel);
        first = this.pending.length > 0 ? this.pending.splice(Math.max(0, preferred), 1)[0] : await this.fetch(true);
        if (!first) continue;
        const key = first.job.data.batchKey;
        const batch = [first, ...this.pending.filter((h) => h.job.data.batchKey === key)].slice(0, this.opts.maxBatch);
        this.pending = this.pending.filter((h) => !batch.includes(h));
        while (batch.length < this.opts.maxBatch && !this.closing && this.pending.length === 0) {
          const next = await this.fetch(false);
          if (!next) break;
          if (next.job.data.batchKey === key) batch.push(next);
          else this.pending.push(next);
        }
        await this.runBatch(batch);
      } catch (e) {
        this.log('worker loop error', { error: (e as Error).message, stack: (e as Error).stack }, 'error');
        if (!this.closing) await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async runBatch(batch: Held[]): Promise<void> {
    for (const h of batch) this.held.set(h.job.id!, h);
    this.busy = true;
    try {
      const valid: Held[] = [];
      for (const h of batch) {
        try {
          this.opts.engine.validate(h.job.data.params);
          valid.push(h);
        } catch (e) {
          await this.failed(h, e);
        }
      }
      const at = new Date();
      const starts = await Promise.all(valid.map(async (h) => {
        try {
          const t = await this.queue.lifecycle.start(ref(h), { workerId: this.id, batchSize: valid.length, steps: h.job.data.params.steps, attempt: h.job.attemptsStarted || h.job.attemptsMade + 1, at });
          if (t.outcome === 'started') return h;
          await this.settle(h, t); // canceled before it ran, already finished, or gone: nothing to run
        } catch (e) {
          await this.failed(h, e);
        }
        return null;
      }));
      const runnable = starts.filter((h): h is Held => h !== null);
      if (runnable.length === 0) return;
      this.loadedModel = runnable[0].job.data.params.model;
      this.opts.observer?.batchStarted?.({ size: runnable.length, model: this.loadedModel });
      await this.generate(runnable, at.getTime());
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
      this.opts.observer?.step?.(runnable.length);
      const now = Date.now();
      if (step !== steps && now - lastReport < 200) return;
      lastReport = now;
      const eta = ((now - started) / 1000 / step) * (steps - step);
      for (const h of runnable) {
        if (this.canceled.has(h.job.id!)) continue;
        progressUpdates.push(this.queue.lifecycle.progress(ref(h), { step, steps, eta_seconds: Math.round(eta * 10) / 10 })
          .catch((e: Error) => this.log('could not report progress', { jobId: h.job.id, error: e.message }, 'warn')));
      }
    };
    let results;
    try {
      results = await this.opts.engine.generate(runnable.map((h) => ({ id: h.job.id!, params: h.job.data.params })), {
        onStep, isCanceled: (id) => this.canceled.has(id),
        interrupted: (id) => this.interrupted.has(id), skips: (id) => this.skips.get(id) ?? 0,
        onPreview: (id, step, png) => { progressUpdates.push(this.queue.previews.set(id, step, png).catch((e: Error) => this.log('could not store a preview', { jobId: id, error: e.message }, 'warn'))); },
      });
    } catch (e) {
      await Promise.all(progressUpdates);
      if (runnable.length > 1) {
        this.log('batch failed; running its jobs one by one', { error: (e as Error).message }, 'warn');
        for (const h of runnable) await this.generate([h], Date.now());
      } else {
        await this.failed(runnable[0], e);
      }
      return;
    }
    await Promise.all(progressUpdates);
    for (const h of runnable) { this.interrupted.delete(h.job.id!); this.skips.delete(h.job.id!); }
    for (const r of results) {
      const h = runnable.find((x) => x.job.id === r.id)!;
      try {
        if (r.canceled) {
          await this.settle(h, await this.queue.lifecycle.cancel(ref(h)));
          continue;
        }
        const images = await this.opts.storeImages(r.id, r.images);
        await this.settle(h, await this.queue.lifecycle.succeed(ref(h), { images, seeds: r.seeds, infotexts: r.infotexts }));
      } catch (e) {
        await this.failed(h, e);
      }
    }
  }

  /** Finishes BullMQ's side of a job whose envelope is terminal (or gone); its terminal event is already emitted. */
  private async settle(h: Held, t: Transition): Promise<void> {
    if (t.envelope && !isTerminal(t.envelope.status)) throw new Error(`job ${h.job.id} is ${t.envelope.status}, not finished`);
    // counted once, by the call that made the transition (a rerun that finds the job finished only completes it)
    if (t.envelope && (t.outcome === 'succeeded' || t.outcome === 'failed' || t.outcome === 'canceled')) this.opts.observer?.jobEnded?.(t.envelope);
    await h.job.moveToCompleted({ status: t.envelope?.status ?? 'missing' }, h.token, false);
  }

  /**
   * A step of a job threw. When its envelope is already terminal, only finishing is left (emitting its event or
   * completing the BullMQ job failed): it is put back without spending an attempt, and the rerun finds it finished
   * and completes it. Otherwise the error's kind decides: transient and not-runnable-here faults retry while
   * attempts remain; bad input and bugs end the job at once (bugs logged at error with their stack).
   */
  private async failed(h: Held, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    try {
      const current = await this.queue.store.get(h.job.id!);
      if (current && isTerminal(current.status)) {
        this.log('job finished but not completed; completing it on a rerun', { jobId: h.job.id, status: current.status, error: message }, 'warn');
        await h.job.moveToDelayed(Date.now() + (this.opts.settleRetryMs ?? 1000), h.token);
        return;
      }
      const kind = errorKind(error);
      const willRetry = isRetryable(kind) && h.job.attemptsMade + 1 < (h.job.opts.attempts ?? 1);
      if (kind === 'bug') this.log('job failed: unexpected error', { jobId: h.job.id, error: message, stack: (error as Error)?.stack, willRetry }, 'error');
      else this.log('job failed', { jobId: h.job.id, kind, error: message, willRetry }, 'warn');
      const t = willRetry
        ? await this.queue.lifecycle.retry(ref(h), `attempt ${h.job.attemptsMade + 1} failed: ${message}; retrying`, h.job.attemptsStarted || h.job.attemptsMade + 1)
        : await this.queue.lifecycle.fail(ref(h), message, { attempts: h.job.attemptsStarted || h.job.attemptsMade + 1 });
      if (t.outcome === 'terminal' || t.outcome === 'missing') {
        if (t.envelope) await this.queue.lifecycle.emitTerminal(t.envelope);
        await this.settle(h, t);
        return;
      }
      await h.job.moveToFailed(willRetry ? toError(error) : new UnrecoverableError(message), h.token, false);
    } catch (e) {
      // Redis is unreachable or BullMQ refused: the lock runs out and the stalled-job check hands the job to a worker
      this.log('could not record a job failure; the job will be recovered when its lock expires', { jobId: h.job.id, error: (e as Error).message, cause: message }, 'error');
    }
  }

  /** Stops taking jobs, finishes the running batch, hands back fetched-but-unstarted jobs. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closing) { await this.loop; return; }
    this.closing = true;
    await this.loop;
    for (const h of this.pending) {
      await h.job.moveToDelayed(Date.now(), h.token).catch((e: Error) => this.log('could not hand a job back; its lock will expire', { jobId: h.job.id, error: e.message }, 'warn'));
    }
    this.pending = [];
    for (const t of this.timers) clearInterval(t);
    await this.queue.unregisterWorker(this.id).catch((e: Error) => this.log('could not unregister the worker', { error: e.message }, 'warn'));
    await this.worker.close();
    this.connection.disconnect();
    this.cancelSub.disconnect();
    await this.queue.close();
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new TransientError(String(e));
}

