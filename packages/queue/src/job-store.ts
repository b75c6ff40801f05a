// Job envelopes in Redis: one JSON value per job, a per-owner index for listing, a per-owner set of unfinished jobs
// (the per-user cap), and a pub/sub channel per job that carries every change (SSE in any gateway listens there).
// Updates never overwrite a terminal state.
import type { Redis } from 'ioredis';
import { TERMINAL, type JobEnvelope, type JobStatus } from './types';

export type EnvelopePatch = Partial<Omit<JobEnvelope, 'id' | 'owner' | 'created_at'>>;
export type ChangeListener = (before: JobEnvelope, after: JobEnvelope) => Promise<void> | void;

const RETENTION_SECONDS = 7 * 24 * 3600;

// Admission and creation in one step, so gateways racing for the same user cannot pass the cap together.
const CREATE_IF_UNDER_CAP = `
if tonumber(ARGV[4]) > 0 and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[3])
return 1`;

export class JobStore {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly onChange?: ChangeListener) {}

  key(id: string): string { return `${this.prefix}:job:${id}`; }
  channel(id: string): string { return `${this.prefix}:events:${id}`; }
  private ownerKey(owner: string): string { return `${this.prefix}:owner:${owner}`; }
  private unfinishedKey(owner: string): string { return `${this.prefix}:unfinished:${owner}`; }

  /**
   * Stores a new envelope unless its owner already has `maxUnfinished` jobs that are not terminal (0: no cap).
   * Returns false when the cap refused it. The set is pruned of expired or finished jobs before refusing.
   */
  async create(envelope: JobEnvelope, maxUnfinished = 0): Promise<boolean> {
    const run = () => this.redis.eval(CREATE_IF_UNDER_CAP, 3, this.key(envelope.id), this.ownerKey(envelope.owner), this.unfinishedKey(envelope.owner),
      JSON.stringify(envelope), Date.parse(envelope.created_at), envelope.id, maxUnfinished, RETENTION_SECONDS);
    if ((await run()) === 1) return true;
    if ((await this.pruneUnfinished(envelope.owner)) === 0) return false;
    return (await run()) === 1;
  }

  async unfinishedCount(owner: string): Promise<number> {
    return this.redis.scard(this.unfinishedKey(owner));
  }

  /** Drops ids whose envelope expired or already ended (a crash between the two writes); returns how many. */
  private async pruneUnfinished(owner: string): Promise<number> {
    const ids = await this.redis.smembers(this.unfinishedKey(owner));
    if (ids.length === 0) return 0;
    const raws = await this.redis.mget(ids.map((id) => this.key(id)));
    const stale = ids.filter((_, n) => raws[n] === null || TERMINAL.has((JSON.parse(raws[n]!) as JobEnvelope).status));
    if (stale.length > 0) await this.redis.srem(this.unfinishedKey(owner), ...stale);
    return stale.length;
  }

  async remove(envelope: JobEnvelope): Promise<void> {
    await this.redis.multi().del(this.key(envelope.id)).zrem(this.ownerKey(envelope.owner), envelope.id).srem(this.unfinishedKey(envelope.owner), envelope.id).exec();
  }

  async get(id: string): Promise<JobEnvelope | null> {
    const raw = await this.redis.get(this.key(id));
    return raw ? (JSON.parse(raw) as JobEnvelope) : null;
  }

  async list(owner: string, limit: number, offset: number): Promise<{ jobs: JobEnvelope[]; total: number }> {
    const [ids, total] = await Promise.all([
      this.redis.zrevrange(this.ownerKey(owner), offset, offset + limit - 1),
      this.redis.zcard(this.ownerKey(owner)),
    ]);
    const raws = ids.length ? await this.redis.mget(ids.map((id) => this.key(id))) : [];
    return { jobs: raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r)), total };
  }

  /**
   * Optimistic read-modify-write (WATCH/MULTI). A terminal envelope is left as it is unless `allowFromTerminal`.
   * Returns the envelope after the update, or null if the job does not exist.
   */
  async update(id: string, patch: EnvelopePatch | ((e: JobEnvelope) => EnvelopePatch | null), opts: { allowFromTerminal?: boolean } = {}): Promise<JobEnvelope | null> {
    const key = this.key(id);
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.redis.watch(key);
      const raw = await this.redis.get(key);
      if (!raw) { await this.redis.unwatch(); return null; }
      const before = JSON.parse(raw) as JobEnvelope;
      const change = typeof patch === 'function' ? patch(before) : patch;
      if (change === null || (TERMINAL.has(before.status) && !opts.allowFromTerminal)) { await this.redis.unwatch(); return before; }
      const after: JobEnvelope = { ...before, ...change };
      const tx = this.redis.multi().set(key, JSON.stringify(after), 'KEEPTTL').publish(this.channel(id), JSON.stringify(after));
      if (TERMINAL.has(after.status)) tx.srem(this.unfinishedKey(after.owner), id);
      const ok = await tx.exec();
      if (ok === null) continue;
      await this.onChange?.(before, after);
      return after;
    }
    throw new Error(`could not update job ${id}: too much contention`);
  }
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.has(status);
}
