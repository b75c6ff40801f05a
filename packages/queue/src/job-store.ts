// Job envelopes in Redis: one JSON value per job, a per-owner index for listing, and a pub/sub channel per job
// that carries every change (SSE in any gateway listens there). Updates never overwrite a terminal state.
import type { Redis } from 'ioredis';
import { TERMINAL, type JobEnvelope, type JobStatus } from './types';

export type EnvelopePatch = Partial<Omit<JobEnvelope, 'id' | 'owner' | 'created_at'>>;
export type ChangeListener = (before: JobEnvelope, after: JobEnvelope) => Promise<void> | void;

const RETENTION_SECONDS = 7 * 24 * 3600;

export class JobStore {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly onChange?: ChangeListener) {}

  key(id: string): string { return `${this.prefix}:job:${id}`; }
  channel(id: string): string { return `${this.prefix}:events:${id}`; }
  private ownerKey(owner: string): string { return `${this.prefix}:owner:${owner}`; }

  async create(envelope: JobEnvelope): Promise<void> {
    await this.redis.multi()
      .set(this.key(envelope.id), JSON.stringify(envelope), 'EX', RETENTION_SECONDS)
      .zadd(this.ownerKey(envelope.owner), Date.parse(envelope.created_at), envelope.id)
      .exec();
  }

  async remove(envelope: JobEnvelope): Promise<void> {
    await this.redis.multi().del(this.key(envelope.id)).zrem(this.ownerKey(envelope.owner), envelope.id).exec();
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
      const ok = await this.redis.multi().set(key, JSON.stringify(after), 'KEEPTTL').publish(this.channel(id), JSON.stringify(after)).exec();
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
