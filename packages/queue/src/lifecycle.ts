// The job's life cycle: the only code that changes a job's status. Each transition is one Lua script (writes the
// envelope fields, keeps the owner's indexes, publishes the new envelope for SSE) followed by its webhook event,
// emitted explicitly. A transition on a terminal job changes nothing and answers `terminal` with the envelope, so the
// caller can still finish BullMQ's side; the terminal event is emitted again then, under the same delivery id, so a
// job whose first emission failed (or whose worker died after writing the result) gets its webhook exactly once.
//
//   admit ──> queued ──start──> running ──succeed──> succeeded
//                ^                 │ └──fail(final)──> failed
//                └────retry────────┘ └──cancel──────> canceled   (queued jobs: cancel at once)
import type { Redis } from 'ioredis';
import { TransientError, isTerminal, type JobEnvelope } from '@farm/core';
import { decodeJson, encodeEnvelope, encodeFields } from './envelope-codec';
import { inOneWrite } from './redis';
import type { FarmKeys, QueueDepthKeys } from './keys';
import { ADMIT, ANNOUNCE, CANCEL, FAIL, PROGRESS, RECORD_DELIVERY, REQUEST_CANCEL, RETRY, START, SUCCEED, WITHDRAW } from './lifecycle-scripts';
import type { PlannedSpend } from './rate-limiter';
import type { WebhookDelivery, WebhookEvent } from './types';

export { isTerminal };

/** What a job's webhook events go to; `emit` must be idempotent per (job, event, attempt) — see WebhookEmitter. */
export interface EventSink {
  emit(envelope: JobEnvelope, event: WebhookEvent): Promise<void>;
}

export interface JobRef {
  id: string;
  owner: string;
}

export type Outcome =
  'started' | 'progressed' | 'succeeded' | 'failed' | 'canceled' | 'retrying' | 'cancel_requested' | 'recorded' | 'terminal' | 'missing' | 'ignored';
export interface Transition {
  outcome: Outcome;
  envelope: JobEnvelope | null;
}

export type AdmitResult =
  | { outcome: 'admitted' }
  | { outcome: 'duplicate'; id: string }
  | { outcome: 'queue_full'; waiting: number }
  | { outcome: 'user_cap' }
  /** `budget`: 1-based index into the spend's budgets of the one that refused */
  | { outcome: 'rate_limited'; budget: number; waitMs: number };

export interface AdmitLimits {
  maxQueued: number;
  maxUnfinished: number;
  idempotencyKey?: string;
}

const RETENTION_SECONDS = 7 * 24 * 3600;
const IDEMPOTENCY_SECONDS = 24 * 3600;
const CANCEL_FLAG_SECONDS = 24 * 3600;

// admit's key count varies (one depth triple per model queue): its caller passes the count first
const SCRIPTS = {
  admit: [null, ADMIT],
  withdraw: [4, WITHDRAW],
  start: [3, START],
  progress: [1, PROGRESS],
  succeed: [3, SUCCEED],
  announce: [1, ANNOUNCE],
  fail: [3, FAIL],
  cancel: [3, CANCEL],
  retry: [1, RETRY],
  requestCancel: [2, REQUEST_CANCEL],
  recordDelivery: [1, RECORD_DELIVERY],
} as const;
type ScriptName = keyof typeof SCRIPTS;
type Runner = (...args: (string | number)[]) => Promise<[string, string]>;

/** Defines the life cycle's scripts as `farm_<name>` commands on a connection (idempotent). */
export function defineLifecycleScripts(redis: Redis): void {
  const commands = redis as unknown as Record<string, Runner>;
  for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) {
    if (!(`farm_${name}` in commands)) redis.defineCommand(`farm_${name}`, numberOfKeys === null ? { lua } : { numberOfKeys, lua });
  }
}

/**
 * Where an admitted job goes: its model's queue name, BullMQ's key of the job (a refused spend leaves it taken, see
 * ADMIT) and the depth keys the queue cap sums (its own queue's first).
 */
export interface AdmitTarget {
  model: string;
  jobKey: string;
  depth: QueueDepthKeys[];
}

/** The admit script's answer; `waiting`/`prioritized`: the own queue's lengths before the job was added. */
export type AdmitReply = AdmitResult | { outcome: 'admitted'; waiting: number; prioritized: number };

export class JobLifecycle {
  private readonly run: Record<ScriptName, Runner>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: FarmKeys,
    private readonly events: EventSink,
    private readonly warn: (msg: string, fields: Record<string, unknown>) => void = () => {},
  ) {
    defineLifecycleScripts(redis);
    const commands = redis as unknown as Record<string, Runner>;
    this.run = Object.fromEntries(
      Object.keys(SCRIPTS).map((name) => [name, (...args: (string | number)[]) => commands[`farm_${name}`].apply(redis, args)]),
    ) as Record<ScriptName, Runner>;
  }

  /**
   * The admit script's call (`farm_admit` + its keys and arguments), written just ahead of the BullMQ add on one
   * connection (one round trip, see FarmQueue.submit): claims the idempotency key (if any), checks the queue and
   * per-owner caps, stores the envelope and records the model among those with a render queue, in one step; with
   * `spend`, it spends the caller's rate-limit budgets first.
   */
  admitArgs(envelope: JobEnvelope, limits: AdmitLimits, target: AdmitTarget, spend?: PlannedSpend): (string | number)[] {
    const k = this.keys;
    const idem = limits.idempotencyKey ? k.idempotency(envelope.owner, limits.idempotencyKey) : k.idempotency(envelope.owner, '');
    const depth = target.depth.flatMap((d) => [d.wait, d.prioritized, d.delayed]);
    const budgets = spend?.keys ?? [];
    return [
      6 + budgets.length + depth.length,
      k.job(envelope.id),
      k.owner(envelope.owner),
      k.unfinished(envelope.owner),
      idem,
      k.renderModels,
      target.jobKey,
      ...budgets,
      ...depth,
      envelope.id,
      Date.parse(envelope.created_at),
      limits.maxUnfinished,
      RETENTION_SECONDS,
      limits.maxQueued,
      IDEMPOTENCY_SECONDS,
      limits.idempotencyKey ? '1' : '0',
      target.model,
      budgets.length,
      spend?.spanMs ?? 0,
      ...(spend?.intervals ?? []),
      ...encodeEnvelope(envelope),
    ];
  }

  static parseAdmit(reply: unknown): AdmitReply {
    const [outcome, extra, more] = reply as [string, string, string?];
    if (outcome === 'duplicate') return { outcome, id: extra };
    if (outcome === 'queue_full') return { outcome, waiting: Number(extra) };
    if (outcome === 'admitted') return { outcome, waiting: Number(extra), prioritized: Number(more ?? 0) };
    if (outcome === 'rate_limited') return { outcome, budget: Number(extra), waitMs: Number(more) };
    return { outcome: outcome as 'user_cap' };
  }

  /** Undoes an admission whose BullMQ job could not be added (the idempotency key is freed too). */
  async withdraw(ref: JobRef, idempotencyKey?: string): Promise<void> {
    const k = this.keys;
    await this.run.withdraw(k.job(ref.id), k.owner(ref.owner), k.unfinished(ref.owner), k.idempotency(ref.owner, idempotencyKey ?? ''), ref.id);
  }

  /** queued -> running as attempt `attempt` (1-based). A job asked to stop before it ran ends canceled instead. */
  async start(ref: JobRef, run: { workerId: string; batchSize: number; steps: number; attempt: number; at?: Date }): Promise<Transition> {
    const now = (run.at ?? new Date()).toISOString();
    const t = await this.transition(
      'start',
      ref.id,
      [this.keys.job(ref.id), this.keys.cancel(ref.id), this.keys.unfinished(ref.owner)],
      ref.id,
      JSON.stringify(now),
      ...encodeFields({
        attempts: run.attempt,
        started_at: now,
        worker_id: run.workerId,
        batch_size: run.batchSize,
        queue_position: null,
        progress: { step: 0, steps: run.steps, eta_seconds: null },
      }),
    );
    await this.emitFor(t);
    return t;
  }

  /** Progress of a running job; anything else ignores it. Its webhook is best effort (throttled, not retried). */
  async progress(ref: JobRef, progress: NonNullable<JobEnvelope['progress']>): Promise<Transition> {
    const t = await this.transition('progress', ref.id, [this.keys.job(ref.id)], JSON.stringify(progress));
    await this.emitFor(t);
    return t;
  }

  /**
   * running -> succeeded. Its event is published by a second script written right behind the transition in the same
   * write (still one round trip): Redis sends its pending answers newest first, so the event, queued after the
   * caller's answer, reaches the subscribers (the client's gateway) before the caller wakes up to its answer, and the
   * gateway gets the free core (measured ~0.3 ms sooner to the client in the farm benchmark). A job already finished
   * answers `terminal` and its envelope is published again (subscribers drop a repeated event).
   */
  async succeed(ref: JobRef, output: NonNullable<JobEnvelope['output']>, at = new Date()): Promise<Transition> {
    const [done, announced] = inOneWrite(this.redis, () => [
      this.toTerminal('succeed', ref, { output, error: null, completed_at: at.toISOString() }),
      this.run.announce(this.keys.job(ref.id), this.keys.jobChannel(ref.id)),
    ]);
    announced.catch(() => {}); // awaited below; a failure only means the event was not published
    const t = await done;
    await announced.catch((e: Error) => this.warn("could not publish a job's end", { jobId: ref.id, error: e.message }));
    if (t.envelope) await this.emitTerminal(t.envelope);
    return t;
  }

  /** The job's last attempt failed: it ends failed. `attempts`: how many were made, when known. */
  async fail(ref: JobRef, error: string, opts: { attempts?: number; at?: Date } = {}): Promise<Transition> {
    return this.finish('fail', ref, {
      error,
      completed_at: (opts.at ?? new Date()).toISOString(),
      progress: null,
      ...(opts.attempts !== undefined ? { attempts: opts.attempts } : {}),
    });
  }

  /** Attempt `attempts` failed and another follows: back to queued, with the reason. */
  async retry(ref: JobRef, error: string, attempts: number): Promise<Transition> {
    return this.transition('retry', ref.id, [this.keys.job(ref.id)], JSON.stringify(error), attempts);
  }

  /** Ends a job that will not run (removed from the queue, or dropped by its worker between steps). */
  async cancel(ref: JobRef, at = new Date()): Promise<Transition> {
    return this.finish('cancel', ref, { completed_at: at.toISOString(), error: null }); // progress stays: how far it got
  }

  /** Asks the worker running the job to drop it between steps (flag + pub/sub message to every worker). */
  async requestCancel(ref: JobRef): Promise<Transition> {
    return this.transition('requestCancel', ref.id, [this.keys.job(ref.id), this.keys.cancel(ref.id)], this.keys.cancelChannel, ref.id, CANCEL_FLAG_SECONDS);
  }

  /** Appends a webhook delivery attempt to the envelope (terminal or not). */
  async recordDelivery(jobId: string, delivery: WebhookDelivery): Promise<Transition> {
    return this.transition('recordDelivery', jobId, [this.keys.job(jobId)], JSON.stringify(delivery));
  }

  /**
   * Emits the terminal event of a terminal envelope (again, on a rerun: the sink drops duplicates by delivery id).
   * Throws TransientError when it cannot: the caller must not finish the job's BullMQ side then.
   */
  async emitTerminal(envelope: JobEnvelope): Promise<void> {
    if (!isTerminal(envelope.status)) return;
    try {
      await this.events.emit(envelope, 'completed');
    } catch (e) {
      throw new TransientError(`job ${envelope.id} is ${envelope.status} but its webhook could not be queued: ${(e as Error).message}`, { cause: e });
    }
  }

  private async finish(name: 'fail' | 'cancel', ref: JobRef, fields: Partial<JobEnvelope>): Promise<Transition> {
    const t = await this.toTerminal(name, ref, fields);
    if (t.envelope) await this.emitTerminal(t.envelope);
    return t;
  }

  /** A terminal transition's script (sent before the first await: see succeed); its webhook is the caller's. */
  private toTerminal(name: 'succeed' | 'fail' | 'cancel', ref: JobRef, fields: Partial<JobEnvelope>): Promise<Transition> {
    return this.transition(name, ref.id, [this.keys.job(ref.id), this.keys.unfinished(ref.owner), this.keys.cancel(ref.id)], ref.id, ...encodeFields(fields));
  }

  /** start and progress events are best effort (a failure is logged, the job runs on); terminal ones must go out. */
  private async emitFor(t: Transition): Promise<void> {
    if (!t.envelope) return;
    if (t.outcome === 'canceled' || t.outcome === 'terminal') return this.emitTerminal(t.envelope);
    const event = t.outcome === 'started' ? 'start' : t.outcome === 'progressed' ? 'progress' : null;
    if (event) {
      await this.events
        .emit(t.envelope, event)
        .catch((e: Error) => this.warn(`could not queue the ${event} webhook`, { jobId: t.envelope!.id, error: e.message }));
    }
  }

  private async transition(name: ScriptName, id: string, keys: string[], ...args: (string | number)[]): Promise<Transition> {
    const [outcome, json] = await this.run[name](...keys, this.keys.jobChannel(id), ...args);
    return { outcome: outcome as Outcome, envelope: json ? decodeJson(json) : null };
  }
}
