// Per-user request budgets kept in Redis, so every gateway of a farm counts together. Each budget is a bucket of
// `perMinute` requests that refills evenly (GCRA: one timestamp per user, no counters to expire in windows).
import type { Redis } from 'ioredis';

// KEYS[1]: the user's theoretical arrival time (ms). ARGV: emission interval ms, bucket span ms.
// Returns {1, 0} when allowed, {0, ms until one more request fits} when not. Uses the server clock, so gateways
// with skewed clocks still agree.
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > span then return {0, math.ceil(next_tat - now - span)} end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now))
return {1, 0}`;

export interface RateDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

export class RateLimiter {
  private readonly intervalMs: number;
  private readonly spanMs = 60_000;

  /** `key(user)` names the user's state (FarmKeys.rateLimit); limiters with the same keys share one budget. */
  constructor(
    private readonly redis: Redis,
    private readonly key: (user: string) => string,
    readonly perMinute: number,
  ) {
    this.intervalMs = this.spanMs / perMinute;
  }

  async take(user: string): Promise<RateDecision> {
    const [allowed, waitMs] = (await this.redis.eval(GCRA, 1, this.key(user), this.intervalMs, this.spanMs)) as [number, number];
    return { allowed: allowed === 1, retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil(waitMs / 1000)) };
  }
}
