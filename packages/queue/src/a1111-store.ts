// What the A1111 API keeps per user in Redis, so every gateway agrees: the options set with POST /sdapi/v1/options
// and the A1111 calls the user is waiting on (for /progress, /interrupt and /skip).
import type { Redis } from 'ioredis';
import type { FarmKeys } from './keys';
import { redisOp } from './redis';

export class A1111Store {
  constructor(
    private readonly redis: Redis,
    private readonly keys: FarmKeys,
  ) {}

  private optionsKey(owner: string): string {
    return this.keys.a1111Options(owner);
  }
  private callsKey(owner: string): string {
    return this.keys.a1111Calls(owner);
  }

  /** The options this user has set (JSON values by key); keys never set are absent. */
  async options(owner: string): Promise<Record<string, unknown>> {
    const raw = await redisOp(() => this.redis.hgetall(this.optionsKey(owner)));
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v) as unknown]));
  }

  async setOptions(owner: string, values: Record<string, unknown>): Promise<void> {
    const entries = Object.entries(values);
    if (entries.length === 0) return;
    await redisOp(() => this.redis.hset(this.optionsKey(owner), Object.fromEntries(entries.map(([k, v]) => [k, JSON.stringify(v)]))));
  }

  /** Job ids of the user's A1111 calls still waiting for their images, oldest first. */
  async calls(owner: string): Promise<string[]> {
    return redisOp(() => this.redis.lrange(this.callsKey(owner), 0, -1));
  }

  async addCall(owner: string, jobId: string): Promise<void> {
    await redisOp(() => this.redis.multi().rpush(this.callsKey(owner), jobId).expire(this.callsKey(owner), 86400).exec());
  }

  async removeCall(owner: string, jobId: string): Promise<void> {
    await redisOp(() => this.redis.lrem(this.callsKey(owner), 0, jobId));
  }
}
