// Takes render jobs from the per-model queues as the routing policy says (warm model first, see ./routing), one batch
// at a time: the jobs at the head of a queue that share a batch key, taken only when they are about to run (never
// held while another batch renders), run as one engine batch, each completed with its own result. The engine starts
// at once; the `running` transition goes out beside it (a job found canceled or finished by then is dropped from the
// batch). Every status change goes through the queue's life cycle; errors are sorted by the taxonomy of @farm/core
// (bad input and bugs are not retried). Locks are extended while a batch runs; a killed worker's jobs are recovered by
// the stalled-job check of the others.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  TransientError,
  errorKind,
  isRetryable,
  isTerminal,
  type GenerationParams,
  type JobEnvelope,
  type JobStatus,
  type ModelMemoryProfile,
} from '@farm/core';
import { FarmQueue } from './farm-queue';
import { blockingConnection, requestConnection } from './redis';
import type { JobLifecycle, JobRef, Transition } from './lifecycle';
import { ModelQueues, type Held, type Woken } from './model-queues';
import { Survey } from './survey';
import { batchFromHead, planRoute, planShared, surveyAgain, warmArrivals } from './routing';
import type { WorkerCommand } from './types';

export interface RenderEngine {
  listModels(): { name: string }[];
  sizeMultiple?(model: string): number;
  hiddenStates?(model: string): number;
  memoryProfile?(model: string): ModelMemoryProfile;
  /** bytes the engine keeps a render within (absent: no limit) */
  readonly memoryBudget?: number;
  listLoras(): { name: string }[];
  listUpscalers?(): { name: string }[];
  validate(params: GenerationParams): void;
  /** A1111's unload-checkpoint: release every loaded session */
  unloadModels?(): Promise<void>;
  /** A1111's reload-checkpoint: load the sessions of a model again */
  loadModel?(name: string): Promise<void>;
  generate(
    items: { id: string; params: GenerationParams }[],
    hooks: {
      onStep?(step: number, steps: number): void;
      isCanceled?(id: string): boolean;
      interrupted?(id: string): boolean;
      skips?(id: string): number;
      onPreview?(id: string, step: number, png: Buffer): void;
    },
  ): Promise<{ id: string; images: Buffer[]; seeds: number[]; infotexts: string[]; canceled: boolean }[]>;
}

export type LogLevel = 'info' | 'warn' | 'error';

/** Where a job's time went at its worker (epoch ms, sub-ms precision), for the farm benchmark's breakdown. */
export interface JobTimings {
  /** the batch's jobs were taken from the queue */
  taken: number;
  /** the engine was handed the batch */
  engineStarted: number;
  /** the engine returned */
  engineDone: number;
  /** the images were stored */
  stored: number;
  /** the worker has the answer to the terminal transition (its event went out just before, see JobLifecycle.succeed) */
  finished: number;
}

/** What a worker does, for its metrics and its liveness probe (the worker package turns these into Prometheus). */
export interface RenderObserver {
  /** the fetch loop went round (idle workers tick at least once per second) */
  tick?(): void;
  /** the worker read its queues (one survey round trip) */
  surveyed?(): void;
  /** `found`: by a survey of the queues, or on waking to new jobs of the warm model (no survey; see warmArrivals) */
  batchStarted?(info: { size: number; model: string; found: 'survey' | 'wake' }): void;
  /** one denoising step of a batch of `rows` images */
  step?(rows: number): void;
  /** a job this worker ended (succeeded, failed or canceled), as its envelope now reads; timings when it ran here */
  jobEnded?(envelope: JobEnvelope, timings?: JobTimings): void;
}

export interface RenderWorkerOptions {
  redisUrl: string;
  prefix?: string;
  workerId?: string;
  maxBatch: number;
  engine: RenderEngine;
  /** the models this worker takes jobs for (WORKER_MODELS); unset: every model its engine has */
  models?: string[];
  /** an idle worker takes a job of a model another worker holds warm once it has waited this long (default 500) */
  switchAfterMs?: number;
  /** a worker with work for its warm model takes a job of a model nobody holds warm once it waited this long (default 10 x switchAfterMs) */
  starveAfterMs?: number;
  /** 'shared': ignore warm models and take the oldest job of any model (one shared queue; for comparison in benchmarks) */
  routing?: 'model' | 'shared';
  /** stores a job's images; returns their storage keys */
  storeImages(jobId: string, images: Buffer[]): Promise<string[]>;
  /** called as the engine starts a job: the store may get ready for its images (best effort, see Storage.prepare) */
  prepareImages?(jobId: string): void;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  heartbeatMs?: number;
  /** retry delay of a job whose result is written but whose completion could not be finished (no attempt spent) */
  settleRetryMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>, level?: LogLevel) => void;
  observer?: RenderObserver;
  /** longest wait for a Redis answer on request connections (default 2000 ms) */
  commandTimeoutMs?: number;
}

const ref = (h: Held): JobRef => ({ id: h.job.id!, owner: h.job.data.owner });
const now = () => performance.timeOrigin + performance.now();
/** a worker whose heartbeat is older than this no longer counts as holding its model warm */
const WARM_TTL_MS = 15_000;
/** an idle worker looks at its queues at least this often (delayed retries, stalled recoveries) */
const MAX_IDLE_MS = 1000;
/** the first progress report of a batch comes this long after it started, then at most this often */
const PROGRESS_INTERVAL_MS = 200;

/** A running batch: the start transitions (sent beside the engine), and the jobs dropped from it since. */
interface Run {
  starts: Map<string, Promise<Transition | null>>;
  startErrors: Map<string, unknown>;
  dropped: Set<string>;
  taken: number;
}

export class RenderWorker {
  readonly id: string;
  private readonly queue: FarmQueue;
  private readonly queues: ModelQueues;
  private readonly survey: Survey;
  /**
   * the life cycle on the BullMQ connection, for results (see generate): like BullMQ's own commands there, a result
   * waits out a Redis outage instead of failing after COMMAND_TIMEOUT_MS; a lock that runs out meanwhile hands the
   * job to another worker, which finds the result or writes the same one.
   */
  private readonly finishing: JobLifecycle;
  private readonly cancelSub: Redis;
  private readonly connection: Redis;
  private readonly canceled = new Set<string>();
  private readonly held = new Map<string, Held>();
  /** BullMQ completions sent and not answered yet (see settle) */
  private readonly completing = new Set<Promise<void>>();
  private loop: Promise<void> | null = null;
  private closing = false;
  private loadedModel: string | null = null;
  /** when this worker took up its warm model (ms) */
  private warmSince = 0;
  private busy = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly lockMs: number;
  private readonly policy: { switchAfterMs: number; starveAfterMs: number };

  constructor(private readonly opts: RenderWorkerOptions) {
    this.id = opts.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.lockMs = opts.lockDurationMs ?? 30_000;
    const switchAfterMs = opts.switchAfterMs ?? 500;
    this.policy = { switchAfterMs, starveAfterMs: opts.starveAfterMs ?? 10 * switchAfterMs };
    this.queue = new FarmQueue({
      redisUrl: opts.redisUrl,
      prefix: opts.prefix,
      commandTimeoutMs: opts.commandTimeoutMs,
      log: (msg, fields) => this.log(msg, fields, 'warn'),
    });
    this.connection = blockingConnection(opts.redisUrl);
    this.connection.on('error', (e) => this.log('Redis connection error (queue connection)', { error: e.message }, 'warn'));
    this.survey = new Survey(this.connection, this.queue.keys);
    this.finishing = this.queue.lifecycleOn(this.connection);
    this.queues = new ModelQueues({
      redisUrl: opts.redisUrl,
      prefix: this.queue.prefix,
      keys: this.queue.keys,
      connection: this.connection,
      lockMs: this.lockMs,
      stalledIntervalMs: opts.stalledIntervalMs ?? 30_000,
      log: (msg, fields, level) => this.log(msg, fields, level),
      // A job that lost its worker more than maxStalledCount times (one that crashes workers) is failed by BullMQ
      // inside a fetch and never reaches us; its envelope must still end.
      onFailedForGood: (job) => {
        void this.failForGood(
          { id: job.id!, owner: job.data.owner },
          `the job stopped its worker ${job.stalledCounter} times and is not retried again (${job.deferredFailure})`,
        );
      },
    });
    this.cancelSub = requestConnection(opts.redisUrl, opts.commandTimeoutMs);
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
    this.timers.push(
      setInterval(() => {
        this.heartbeat().catch((e: Error) => this.log('heartbeat failed', { error: e.message }, 'warn'));
      }, this.opts.heartbeatMs ?? 5000),
    );
    this.timers.push(
      setInterval(
        () => {
          this.extendLocks();
        },
        Math.max(500, this.lockMs / 3),
      ),
    );
    this.loop = this.run();
  }

  /** The models this worker takes jobs for: its engine's, limited to `models` when given. */
  private models(): string[] {
    const all = this.opts.engine.listModels().map((m) => m.name);
    return this.opts.models ? all.filter((m) => this.opts.models!.includes(m)) : all;
  }

  private async heartbeat(): Promise<void> {
    const models = this.models();
    await this.queues.ensure(models);
    await this.queue.registerWorker({
      id: this.id,
      host: hostname(),
      models,
      ...this.modelLimits(models),
      loras: this.opts.engine.listLoras().map((l) => l.name),
      upscalers: this.opts.engine.listUpscalers?.().map((u) => u.name) ?? [],
      loadedModel: this.loadedModel,
      busy: this.busy,
    });
    if (this.loadedModel) await this.queue.redis.zadd(this.queue.keys.warm(this.loadedModel), Date.now(), this.id);
  }

  /** Records which model this worker now holds warm (what other workers' routing reads); not awaited by the batch. */
  private setWarm(model: string): void {
    const previous = this.loadedModel;
    this.loadedModel = model;
    if (previous === model) return;
    this.warmSince = Date.now();
    const m = this.queue.redis.multi();
    if (previous) m.zrem(this.queue.keys.warm(previous), this.id);
    m.zadd(this.queue.keys.warm(model), Date.now(), this.id);
    m.exec().catch((e: Error) => this.log('could not record the warm model', { model, error: e.message }, 'warn'));
  }

  /** what each model can run: size multiples other than 8 (fixed 2x upsamplers), clip-skip hidden states, memory */
  private modelLimits(models: string[]): {
    sizeMultiples: Record<string, number>;
    hiddenStates: Record<string, number>;
    memory: Record<string, ModelMemoryProfile>;
    memoryBudget?: number;
  } {
    const sizeMultiples: Record<string, number> = {};
    const hiddenStates: Record<string, number> = {};
    const memory: Record<string, ModelMemoryProfile> = {};
    for (const name of models) {
      try {
        const m = this.opts.engine.sizeMultiple?.(name) ?? 8;
        if (m !== 8) sizeMultiples[name] = m;
        const h = this.opts.engine.hiddenStates?.(name);
        if (h !== undefined) hiddenStates[name] = h;
        const profile = this.opts.engine.memoryBudget !== undefined ? this.opts.engine.memoryProfile?.(name) : undefined;
        if (profile) memory[name] = profile;
      } catch {
        /* a broken model fails its jobs with the reason */
      }
    }
    return { sizeMultiples, hiddenStates, memory, ...(this.opts.engine.memoryBudget !== undefined ? { memoryBudget: this.opts.engine.memoryBudget } : {}) };
  }

  private extendLocks(): void {
    for (const { job, token } of this.held.values()) {
      job
        .extendLock(token, this.lockMs)
        .catch((e: Error) => this.log('could not extend a job lock; another worker may take the job', { jobId: job.id, error: e.message }, 'warn'));
    }
  }

  private async run(): Promise<void> {
    const nothing: Woken = { events: [], claimed: null };
    let woken = nothing;
    /** surveys in a row whose takes all came back empty (see surveyAgain) */
    let emptyTakes = 0;
    while (!this.closing) {
      this.opts.observer?.tick?.();
      try {
        // new jobs of the warm model only: taken at once, the survey's round trip saved (see warmArrivals)
        let { claimed } = woken;
        const direct = this.opts.routing === 'shared' ? 0 : warmArrivals(woken.events, this.loadedModel, this.opts.maxBatch);
        woken = nothing;
        if (claimed?.job.deferredFailure) {
          // BullMQ marked it to fail for good: it goes back, and its next take fails it
          await this.queues.handBack(claimed);
          claimed = null;
        }
        // a claim taken behind the wake-up read is a job of the warm model for an idle worker that no other warm worker
        // ranks before, the policy's first choice whatever else woke it: it runs at once, first of the new arrivals
        // that share its batch key
        if (claimed || direct > 0) {
          const first = claimed ? [claimed] : [];
          const rest = await this.queues.take(this.loadedModel!, direct - first.length, claimed?.job.data.batchKey).catch((e: Error) => {
            if (!claimed) throw e;
            // the claim is held already: a failed take of the others must not leave it without a batch
            this.log('could not take the jobs that arrived with a claimed one; it runs alone', { error: e.message }, 'warn');
            return [];
          });
          const batch = [...first, ...rest];
          if (batch.length > 0) {
            await this.runBatch(batch, new Set(), 'wake');
            continue;
          }
        }
        const t = Date.now();
        const survey = await this.survey.read(this.id, this.queues.list(), { now: t, liveSinceMs: t - WARM_TTL_MS, headLength: this.opts.maxBatch });
        this.opts.observer?.surveyed?.();
        const plan = this.opts.routing === 'shared' ? planShared(survey, t) : planRoute(survey, this.loadedModel, t, this.policy, this.warmSince);
        let ran = false;
        for (const model of plan.order) {
          const s = survey.find((x) => x.model === model)!;
          const batch = await this.queues.take(model, Math.max(1, batchFromHead(s.head, this.opts.maxBatch).length));
          if (batch.length === 0) continue;
          // the head's envelopes, read by the survey: a job whose result is already written is completed, not run
          const finished = new Set(s.head.filter((h) => h.status !== '' && isTerminal(JSON.parse(h.status) as JobStatus)).map((h) => h.id));
          await this.runBatch(batch, finished, 'survey');
          ran = true;
          break;
        }
        // counted only while it surveys again at once; anything else (a batch run, a sleep) starts the count over
        if (!ran && !this.closing && surveyAgain(plan.order.length, ++emptyTakes)) continue;
        emptyTakes = 0;
        if (!ran && !this.closing) {
          // sleep until something changes after the survey's snapshot (what it saw is not takeable yet, or was taken
          // by others survey after survey)
          for (const s of survey) this.queues.readFrom(s.model, s.lastEventId);
          // a claim of the warm model's next job rides behind the read, unless another worker warm on the model ranks
          // first (the policy may then send this one to a model nobody holds)
          const warm = survey.find((s) => s.model === this.loadedModel);
          const claimFrom = this.opts.routing !== 'shared' && warm && warm.warmBefore === 0 ? warm.model : null;
          woken = await this.queues.waitForWork(Math.min(plan.wakeInMs ?? MAX_IDLE_MS, MAX_IDLE_MS), claimFrom);
          if (this.closing && woken.claimed) await this.queues.handBack(woken.claimed);
        }
      } catch (e) {
        if (this.closing) break;
        this.log('worker loop error', { error: (e as Error).message, stack: (e as Error).stack }, 'error');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async runBatch(batch: Held[], finished: Set<string>, found: 'survey' | 'wake'): Promise<void> {
    const taken = now();
    for (const h of batch) this.held.set(h.job.id!, h);
    this.busy = true;
    try {
      const valid: Held[] = [];
      for (const h of batch) {
        if (finished.has(h.job.id!)) {
          // its start answers `terminal` (or `started` if the envelope changed back meanwhile, then it runs)
          try {
            const t = await this.startJob(h, 1, new Date());
            if (t.outcome === 'started') valid.push(h);
            else await this.settle(h, t);
          } catch (e) {
            await this.failed(h, e);
          }
          continue;
        }
        try {
          this.opts.engine.validate(h.job.data.params);
          valid.push(h);
        } catch (e) {
          await this.failed(h, e);
        }
      }
      if (valid.length === 0) return;
      const at = new Date();
      const run: Run = { starts: new Map(), startErrors: new Map(), dropped: new Set(), taken };
      // the engine gets the batch first (a thread: it computes while this thread sends the start transitions); the
      // starts are read only once the engine has answered
      const generating = this.generate(valid, at.getTime(), run);
      try {
        this.sendStarts(valid, at, run);
        for (const h of valid) this.opts.prepareImages?.(h.job.id!);
        const model = valid[0].job.data.params.model;
        this.setWarm(model);
        this.opts.observer?.batchStarted?.({ size: valid.length, model, found });
      } finally {
        // the batch's jobs stay held (locks extended) until the engine is done with them
        await generating;
      }
    } finally {
      for (const h of batch) this.held.delete(h.job.id!);
      this.busy = false;
      await this.applyCommands().catch((e) => this.log('worker command failed', { error: (e as Error).message }));
    }
  }

  /** Sends each job's start transition (not awaited: the engine already runs); a job whose start answers otherwise is dropped. */
  private sendStarts(valid: Held[], at: Date, run: Run): void {
    for (const h of valid) {
      const id = h.job.id!;
      run.starts.set(
        id,
        this.startJob(h, valid.length, at).then(
          (t) => {
            if (t.outcome !== 'started') run.dropped.add(id);
            return t;
          },
          (e: unknown) => {
            run.dropped.add(id);
            run.startErrors.set(id, e);
            return null;
          },
        ),
      );
    }
  }

  private startJob(h: Held, batchSize: number, at: Date): Promise<Transition> {
    return this.queue.lifecycle.start(ref(h), {
      workerId: this.id,
      batchSize,
      steps: h.job.data.params.steps,
      attempt: h.job.attemptsStarted || h.job.attemptsMade + 1,
      at,
    });
  }

  private async generate(runnable: Held[], started: number, run: Run): Promise<void> {
    // no progress event for a batch that ends within the first report interval (its terminal event says it all)
    let lastReport = started;
    const progressUpdates: Promise<unknown>[] = [];
    const onStep = (step: number, steps: number) => {
      this.opts.observer?.step?.(runnable.length);
      const t = Date.now();
      if (step === steps || t - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = t;
      const eta = ((t - started) / 1000 / step) * (steps - step);
      for (const h of runnable) {
        if (this.canceled.has(h.job.id!) || run.dropped.has(h.job.id!)) continue;
        progressUpdates.push(
          this.queue.lifecycle
            .progress(ref(h), { step, steps, eta_seconds: Math.round(eta * 10) / 10 })
            .catch((e: Error) => this.log('could not report progress', { jobId: h.job.id, error: e.message }, 'warn')),
        );
      }
    };
    const engineStarted = now();
    let results;
    try {
      results = await this.opts.engine.generate(
        runnable.map((h) => ({ id: h.job.id!, params: h.job.data.params })),
        {
          onStep,
          isCanceled: (id) => this.canceled.has(id) || run.dropped.has(id),
          interrupted: (id) => this.interrupted.has(id),
          skips: (id) => this.skips.get(id) ?? 0,
          onPreview: (id, step, png) => {
            progressUpdates.push(
              this.queue.previews.set(id, step, png).catch((e: Error) => this.log('could not store a preview', { jobId: id, error: e.message }, 'warn')),
            );
          },
        },
      );
    } catch (e) {
      await Promise.all(progressUpdates);
      if (runnable.length > 1) {
        this.log('batch failed; running its jobs one by one', { error: (e as Error).message }, 'warn');
        for (const h of runnable) await this.generate([h], Date.now(), run);
      } else {
        await this.startedOr(runnable[0], run, () => this.failed(runnable[0], e));
      }
      return;
    }
    const engineDone = now();
    await Promise.all(progressUpdates);
    for (const h of runnable) {
      this.interrupted.delete(h.job.id!);
      this.skips.delete(h.job.id!);
    }
    for (const r of results) {
      const h = runnable.find((x) => x.job.id === r.id)!;
      await this.startedOr(h, run, async () => {
        try {
          if (r.canceled) {
            await this.settle(h, await this.queue.lifecycle.cancel(ref(h)));
            return;
          }
          const images = await this.opts.storeImages(r.id, r.images);
          const stored = now();
          const output = { images, seeds: r.seeds, infotexts: r.infotexts };
          const timings = () => ({ taken: run.taken, engineStarted, engineDone, stored, finished: now() });
          // The result alone first: the client hears of it once Redis has run that one script. BullMQ's completion
          // follows its answer (written behind it, Redis would run the completion before it sent the result's event:
          // ~0.4 ms later to the client in the farm benchmark). A completed webhook is queued by the result's step,
          // before BullMQ's side ends. A worker that dies in between leaves a finished envelope: the job's lock runs
          // out and the next worker completes it without running it (and the webhook goes out once).
          const t = await this.finishing.succeed(ref(h), output);
          // BullMQ's completion is not waited for: the next survey goes out behind it on the same connection, so an
          // idle worker is back asleep with its claim ready one round trip sooner (a job submitted meanwhile is taken
          // from its wake-up, not found by a survey). A completion that fails is handled as any failed step after the
          // result: the job goes back without spending an attempt, and its next pass completes it.
          await this.settle(h, t, timings(), { wait: false });
        } catch (e) {
          await this.failed(h, e);
        }
      });
    }
  }

  /** Runs `then` for a job whose start went through; a job whose start answered otherwise (canceled, finished) is settled. */
  private async startedOr(h: Held, run: Run, then: () => Promise<void>): Promise<void> {
    const t = await run.starts.get(h.job.id!);
    if (t === null || t === undefined) {
      await this.failed(h, run.startErrors.get(h.job.id!) ?? new TransientError('the job could not be started'));
      return;
    }
    if (t.outcome !== 'started') {
      await this.settle(h, t).catch((e) => this.failed(h, e));
      return;
    }
    await then();
  }

  /**
   * Finishes BullMQ's side of a job whose envelope is terminal (or gone); its terminal event is already emitted.
   * `wait: false`: the completion is only sent (close waits for it); a failure of it is handled as a failed step.
   */
  private async settle(h: Held, t: Transition, timings?: JobTimings, opts: { wait?: boolean } = {}): Promise<void> {
    if (t.envelope && !isTerminal(t.envelope.status)) throw new Error(`job ${h.job.id} is ${t.envelope.status}, not finished`);
    // counted once, by the call that made the transition (a rerun that finds the job finished only completes it)
    if (t.envelope && (t.outcome === 'succeeded' || t.outcome === 'failed' || t.outcome === 'canceled')) this.opts.observer?.jobEnded?.(t.envelope, timings);
    const completed = h.job.moveToCompleted(null, h.token, false).then(() => undefined);
    if (opts.wait !== false) return completed;
    const sent: Promise<void> = completed.catch((e: unknown) => this.failed(h, e)).finally(() => this.completing.delete(sent));
    this.completing.add(sent);
  }

  /** Ends the envelope of a job BullMQ will not run again (it stopped its workers too often). */
  private async failForGood(job: JobRef, error: string): Promise<void> {
    this.log('job failed', { jobId: job.id, error, willRetry: false }, 'error');
    const t = await this.queue.lifecycle.fail(job, error).catch((e: Error) => {
      this.log('could not record a failed job', { jobId: job.id, error: e.message }, 'error');
      return null;
    });
    if (t?.outcome === 'failed' && t.envelope) this.opts.observer?.jobEnded?.(t.envelope);
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
        ? await this.queue.lifecycle.retry(
            ref(h),
            `attempt ${h.job.attemptsMade + 1} failed: ${message}; retrying`,
            h.job.attemptsStarted || h.job.attemptsMade + 1,
          )
        : await this.queue.lifecycle.fail(ref(h), message, { attempts: h.job.attemptsStarted || h.job.attemptsMade + 1 });
      if (t.outcome === 'terminal' || t.outcome === 'missing') {
        if (t.envelope) await this.queue.lifecycle.emitTerminal(t.envelope);
        await this.settle(h, t);
        return;
      }
      await h.job.moveToFailed(willRetry ? toError(error) : new UnrecoverableError(message), h.token, false);
    } catch (e) {
      // Redis is unreachable or BullMQ refused: the lock runs out and the stalled-job check hands the job to a worker
      this.log(
        'could not record a job failure; the job will be recovered when its lock expires',
        { jobId: h.job.id, error: (e as Error).message, cause: message },
        'error',
      );
    }
  }

  /** Stops taking jobs and finishes the running batch (nothing else is held). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closing) {
      await this.loop;
      return;
    }
    this.closing = true;
    const stopping = this.queues.close();
    await this.loop;
    await Promise.all(this.completing);
    await stopping;
    for (const t of this.timers) clearInterval(t);
    await this.queue.unregisterWorker(this.id).catch((e: Error) => this.log('could not unregister the worker', { error: e.message }, 'warn'));
    if (this.loadedModel)
      await this.queue.redis
        .zrem(this.queue.keys.warm(this.loadedModel), this.id)
        .catch((e: Error) => this.log('could not clear the warm model', { error: e.message }, 'warn'));
    this.connection.disconnect();
    this.cancelSub.disconnect();
    await this.queue.close();
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new TransientError(String(e));
}
