// A worker's side of the per-model render queues: one BullMQ Worker (manual fetching) per model it may run, taking
// jobs only when asked (never ahead of time), and one blocking read of the queues' BullMQ event streams to sleep until
// there may be work (a job added, retried or recovered) — one connection wakes for any model, and unlike a blocking
// pop it consumes nothing, so every worker that holds a model sees the same wake-up and the routing policy decides who
// takes the job. An idle worker's claim of its warm model's next job rides behind its blocking read on the same
// connection: Redis runs it the moment the read is answered, so a job of the warm model is taken without a round trip
// after waking.
import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { blockingConnection, isRedisConnectionError } from './redis';
import type { RenderJobData } from './types';
import type { FarmKeys } from './keys';
import type { WakeEvent } from './routing';

export interface Held {
  job: Job<RenderJobData>;
  token: string;
}

/** BullMQ events that may mean a job to take: added, back to waiting (retry, stalled recovery, hand-back), delayed. */
const WAKE_EVENTS = new Set(['added', 'waiting', 'delayed']);

/** XREAD's answer: per stream, its entries as [id, flat field/value list]; null when it timed out */
type XReadReply = [string, [string, string[]][]][] | null;

/** What woke a sleeping worker: the events, and the job its claim took (see waitForWork), if any. */
export interface Woken {
  events: WakeEvent[];
  claimed: Held | null;
}

/** BullMQ's Worker claims a job with a client of the caller's choice (its protected moveToActive). */
interface ClaimingWorker {
  moveToActive(client: { runCommand(name: string, args: unknown[]): Promise<unknown> }, token: string): Promise<Job<RenderJobData> | undefined>;
}

export interface ModelQueuesOptions {
  redisUrl: string;
  prefix: string;
  keys: FarmKeys;
  /** the worker's queue connection (BullMQ Workers share it; also sends CLIENT UNBLOCK for the wake-up reader) */
  connection: Redis;
  lockMs: number;
  stalledIntervalMs: number;
  /** a job BullMQ failed for good inside a fetch (it stopped its workers too often): its envelope must still end */
  onFailedForGood(job: Job<RenderJobData>): void;
  log(msg: string, fields: Record<string, unknown>, level: 'info' | 'warn' | 'error'): void;
}

export class ModelQueues {
  private readonly workers = new Map<string, Worker<RenderJobData>>();
  /** events stream key -> id of the last entry read */
  private readonly lastIds = new Map<string, string>();
  /** events stream key -> its model */
  private readonly streamModels = new Map<string, string>();
  private readonly wake: Redis;
  /** BullMQ's claim script as the wake-up connection knows it (undefined: not defined yet; null: claims are off) */
  private claimCommand: string | null | undefined;
  private closing = false;

  constructor(private readonly opts: ModelQueuesOptions) {
    this.wake = blockingConnection(opts.redisUrl);
    this.wake.on('error', (e) => {
      if (!this.closing) opts.log('Redis connection error (wake-up reader)', { error: e.message }, 'warn');
    });
  }

  /** Opens the queues of models not seen before (a model dropped into MODELS_DIR later gets its queue then). */
  async ensure(models: string[]): Promise<void> {
    for (const model of models) {
      if (this.workers.has(model) || this.closing) continue;
      const worker = new Worker<RenderJobData>(this.opts.keys.renderQueue(model), null, {
        connection: this.opts.connection,
        prefix: this.opts.prefix,
        autorun: false,
        lockDuration: this.opts.lockMs,
        stalledInterval: this.opts.stalledIntervalMs,
        maxStalledCount: 2,
      });
      worker.on('error', (e) => this.opts.log('bullmq error', { model, error: e.message }, 'warn'));
      worker.on('failed', (job) => {
        if (job?.deferredFailure) this.opts.onFailedForGood(job);
      });
      this.workers.set(model, worker);
      // read events from now on (what is already queued, the next survey sees)
      const last = await this.opts.connection.xrevrange(worker.keys.events, '+', '-', 'COUNT', 1);
      this.lastIds.set(worker.keys.events, last[0]?.[0] ?? '0-0');
      this.streamModels.set(worker.keys.events, model);
      worker.startStalledCheckTimer().catch((e: Error) => this.opts.log('stalled check stopped', { model, error: e.message }, 'error'));
    }
  }

  /**
   * Gives the wake-up connection BullMQ's claim script (moveToActive), copied from the queue connection on which
   * BullMQ defined it, so a claim can ride behind the blocking read. Without it (a BullMQ that names it otherwise),
   * a worker takes jobs as before: a round trip after waking.
   */
  private defineClaim(): boolean {
    if (this.claimCommand !== undefined) return this.claimCommand !== null;
    // BullMQ defines its scripts on the connection once one of its Workers has started
    const defined = (this.opts.connection as unknown as { scriptsSet?: Record<string, { lua: string; numberOfKeys: number | null }> }).scriptsSet ?? {};
    const name = Object.keys(defined).find((n) => n.startsWith('moveToActive:'));
    if (!name) return false;
    this.wake.defineCommand(name, { lua: defined[name].lua, numberOfKeys: defined[name].numberOfKeys ?? undefined });
    this.claimCommand = name;
    return true;
  }

  /** Sends a claim of `model`'s next job on the wake-up connection (behind whatever was sent there before it). */
  private claim(model: string): Promise<Held | null> | null {
    const worker = this.workers.get(model);
    if (!worker || !this.defineClaim()) return null;
    const token = randomUUID();
    const wake = this.wake as unknown as Record<string, (args: unknown[]) => Promise<unknown>>;
    const client = { runCommand: (name: string, args: unknown[]) => wake[name](args) };
    const off = (e: Error) => {
      if (this.closing || isRedisConnectionError(e)) return null;
      // not Redis being away: BullMQ's insides have changed; take jobs as before from now on
      this.claimCommand = null;
      this.opts.log('a claim behind the wake-up read failed; claims are off, jobs are taken after waking', { model, error: e.message }, 'warn');
      return null;
    };
    try {
      return (worker as unknown as ClaimingWorker).moveToActive(client, token).then((job) => (job ? { job, token } : null), off);
    } catch (e) {
      return Promise.resolve(off(e as Error));
    }
  }

  list(): { model: string; queue: Worker<RenderJobData> }[] {
    return [...this.workers].map(([model, queue]) => ({ model, queue }));
  }

  /**
   * Takes up to `count` jobs from the head of a model's queue in one round trip (the fetches are pipelined) and keeps
   * those with the first one's batch key. Another worker may have taken some meanwhile, so a job with another key can
   * arrive: it is handed back at once (to the head of its queue), never held.
   */
  async take(model: string, count: number, batchKey?: string): Promise<Held[]> {
    const worker = this.workers.get(model);
    if (!worker || this.closing || count <= 0) return [];
    const fetched = await Promise.all(
      Array.from({ length: count }, async (): Promise<Held | null> => {
        const token: string = randomUUID();
        const job = (await worker.getNextJob(token, { block: false })) as Job<RenderJobData> | undefined;
        return job ? { job, token } : null;
      }),
    );
    const got = fetched.filter((h): h is Held => h !== null);
    if (got.length === 0) return [];
    const key = batchKey ?? got[0].job.data.batchKey;
    const keep = got.filter((h) => h.job.data.batchKey === key);
    await Promise.all(got.filter((h) => !keep.includes(h)).map((h) => this.handBack(h)));
    return keep;
  }

  /**
   * Puts a job this worker will not run back at the head of its queue. Taking it counted an attempt started (BullMQ's
   * `ats`, which the job's `attempts` shows): that is undone first, while the lock is still this worker's.
   */
  async handBack(h: Held): Promise<void> {
    const key = (h.job as unknown as { toKey(id: string): string }).toKey(h.job.id!);
    await this.opts.connection
      .hincrby(key, 'ats', -1)
      .then(() => h.job.moveToWait(h.token))
      .catch((e: Error) => this.opts.log('could not hand a job back; its lock will expire', { jobId: h.job.id, error: e.message }, 'warn'));
  }

  /**
   * Reads a model's events on from `eventId` (a survey's snapshot of the queue): what happened before it, the survey
   * has already seen, so a batch's own jobs do not wake the worker again once it is idle.
   */
  readFrom(model: string, eventId: string): void {
    const stream = this.workers.get(model)?.keys.events;
    if (stream) this.lastIds.set(stream, eventId);
  }

  /**
   * Sleeps until one of the queues reports a job that may be taken, or `timeoutMs` passes; answers the events that
   * woke it, in order ([] when the time ran out), and with `claimFrom` (the warm model of an idle worker) the job
   * its claim took: the caller runs it or hands it back.
   */
  async waitForWork(timeoutMs: number, claimFrom: string | null = null): Promise<Woken> {
    const streams = [...this.lastIds.keys()];
    if (streams.length === 0 || this.closing) {
      await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 100)));
      return { events: [], claimed: null };
    }
    for (let deadline = Date.now() + timeoutMs; !this.closing;) {
      const block = Math.max(1, Math.round(deadline - Date.now()));
      // Redis ends a blocking read's timeout only on its server tick (every 100 ms at the default hz 10), so a 20 ms
      // wait could last 100: this side ends it on time with CLIENT UNBLOCK from the queue connection. The CLIENT ID
      // goes out just ahead of the read on the same connection (no extra round trip before it blocks).
      const socket = this.wake.stream;
      const clientId = this.wake.client('ID') as Promise<number>;
      clientId.catch(() => {}); // the read fails the same way, and says so
      const read = this.wake.xread('COUNT', 500, 'BLOCK', block, 'STREAMS', ...streams, ...streams.map((s) => this.lastIds.get(s)!)) as Promise<XReadReply>;
      // Redis runs a blocked client's next command once its read is answered: the claim takes the warm model's next
      // job (if there is one by then) with no round trip of its own
      const claim = claimFrom ? this.claim(claimFrom) : null;
      const timer = this.unblockAfter(block, clientId, socket);
      let reply: XReadReply;
      try {
        reply = await read;
      } catch (e) {
        void claim?.then((h) => h && this.handBack(h));
        throw e;
      } finally {
        timer.stop();
      }
      const claimed = (await claim) ?? null;
      const events: WakeEvent[] = [];
      for (const [stream, entries] of reply ?? []) {
        if (entries.length > 0) this.lastIds.set(stream, entries[entries.length - 1][0]);
        for (const [, fields] of entries) {
          const f: Record<string, string> = {};
          for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
          if (WAKE_EVENTS.has(f.event)) events.push({ model: this.streamModels.get(stream) ?? '', event: f.event, jobId: f.jobId ?? '', name: f.name });
        }
      }
      if (!reply || claimed || events.length > 0 || Date.now() >= deadline) return { events, claimed };
    }
    return { events: [], claimed: null };
  }

  /**
   * Ends the blocking read after `ms` with CLIENT UNBLOCK ... TIMEOUT (the read answers null, as a timeout) unless
   * `stop` is called first (the read answered). A read not blocked yet when the timer fires (a very short wait) is
   * unblocked again a millisecond later, a few times at most. Only while the wake-up connection is still the `socket`
   * that read went out on: after a reconnect the id is stale (ids start again after a Redis restart, so it could name
   * another client) and ioredis sends the read again.
   */
  private unblockAfter(ms: number, clientId: Promise<number>, socket: unknown): { stop(): void } {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let tries = 0;
    const fire = () => {
      if (done || this.closing || this.wake.stream !== socket) return;
      clientId
        .then((id) => (this.wake.stream === socket ? this.opts.connection.client('UNBLOCK', id, 'TIMEOUT') : 1))
        .then((unblocked) => {
          if (unblocked === 0 && !done && ++tries < 20) timer = setTimeout(fire, 1);
        })
        .catch(() => {
          /* Redis away: the read ends with the connection, or on Redis's own tick */
        });
    };
    timer = setTimeout(fire, ms);
    return {
      stop: () => {
        done = true;
        clearTimeout(timer);
      },
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wake.disconnect();
    await Promise.allSettled([...this.workers.values()].map((w) => w.close()));
  }
}
