// Reading job envelopes: one hash per job (see envelope-codec), a per-owner index for listing, a per-owner set of
// unfinished jobs (the per-user cap). Nothing here changes a job: that is the life cycle's (./lifecycle) alone.
import type { Redis } from 'ioredis';
import { isTerminal } from '@farm/core';
import { decodeHash } from './envelope-codec';
import type { FarmKeys } from './keys';
import type { JobEnvelope } from './types';

export class JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: FarmKeys,
  ) {}

  async get(id: string): Promise<JobEnvelope | null> {
    return decodeHash(await this.redis.hgetall(this.keys.job(id)));
  }

  async list(owner: string, limit: number, offset: number): Promise<{ jobs: JobEnvelope[]; total: number }> {
    const [ids, total] = await Promise.all([
      this.redis.zrevrange(this.keys.owner(owner), offset, offset + limit - 1),
      this.redis.zcard(this.keys.owner(owner)),
    ]);
    const jobs = await this.getMany(ids);
    return { jobs: jobs.filter((e): e is JobEnvelope => e !== null), total };
  }

  async unfinishedCount(owner: string): Promise<number> {
    return this.redis.scard(this.keys.unfinished(owner));
  }

  /** Drops ids whose envelope expired or already ended (left by a crash mid-way); returns how many. */
  async pruneUnfinished(owner: string): Promise<number> {
    const ids = await this.redis.smembers(this.keys.unfinished(owner));
    if (ids.length === 0) return 0;
    const envelopes = await this.getMany(ids);
    const stale = ids.filter((_, n) => envelopes[n] === null || isTerminal(envelopes[n]!.status));
    if (stale.length > 0) await this.redis.srem(this.keys.unfinished(owner), ...stale);
    return stale.length;
  }

  private async getMany(ids: string[]): Promise<(JobEnvelope | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.job(id));
    const answers = (await pipeline.exec()) ?? [];
    return answers.map(([error, hash]) => {
      if (error) throw error;
      return decodeHash(hash as Record<string, string>);
    });
  }
}
