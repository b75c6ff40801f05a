// Per-user request budgets kept in Redis, so every gateway of a farm counts together. Each budget is a bucket of
// `perMinute` requests that refills evenly (GCRA: one timestamp per user and budget, no counters to expire in
// windows). One request may spend from several budgets (every request from `requests`, a submission also from
// `submits`); they are checked and spent in one script, so the limiter costs one round trip per request.
import type { Redis } from 'ioredis';

// KEYS: the user's theoretical arrival time (ms) in each budget. ARGV[1]: bucket span ms, then one emission
// interval ms per key. All or nothing: a request refused by any budget spends from none of them.
// Returns {0, 0} when allowed, {i, ms until one more request fits} when budget i (1-based) refuses.
// Uses the server clock, so gateways with skewed clocks still agree.
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
local next_tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local next_tat = tat + interval
  if next_tat - now > span then return {i, math.ceil(next_tat - now - span)} end
  next_tats[i] = next_tat
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, next_tats[i], 'PX', math.ceil(next_tats[i] - now))
end
return {0, 0}`;

/** One named budget: `perMinute` requests per user per minute. */
export interface Budget {
  name: string;
  perMinute: number;
}

export interface RateDecision {
  allowed: boolean;
  retryAfterSeconds: number;
  /** The budget that refused, when one did. */
  refusedBy?: Budget;
}

type GcraRedis = Redis & { farmGcra(count: number, ...keysAndArgs: (string | number)[]): Promise<[number, number]> };

export class RateLimiter {
  private readonly spanMs = 60_000;
  private readonly redis: GcraRedis;

  /**
   * `key(budget, user)` names the user's state in one budget (FarmKeys.rateLimit); limiters with the same keys
   * share their budgets.
   */
  constructor(
    redis: Redis,
    private readonly key: (budget: string, user: string) => string,
    readonly budgets: readonly Budget[],
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL once per connection: the script text crosses the wire once.
    if (!('farmGcra' in redis)) redis.defineCommand('farmGcra', { lua: GCRA });
    this.redis = redis as GcraRedis;
  }

  /** Spends one request from each named budget (default: all of them), or from none if any is exhausted. */
  async take(user: string, names?: readonly string[]): Promise<RateDecision> {
    const spend = names ? this.budgets.filter((b) => names.includes(b.name)) : this.budgets;
    if (spend.length === 0) return { allowed: true, retryAfterSeconds: 0 };
    const keys = spend.map((b) => this.key(b.name, user));
    const intervals = spend.map((b) => this.spanMs / b.perMinute);
    const [refused, waitMs] = await this.redis.farmGcra(keys.length, ...keys, this.spanMs, ...intervals);
    if (refused === 0) return { allowed: true, retryAfterSeconds: 0 };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), refusedBy: spend[refused - 1] };
  }
}
