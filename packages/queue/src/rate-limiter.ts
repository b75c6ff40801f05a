// Per-user request budgets kept in Redis, so every gateway of a farm counts together. Each budget is a bucket of
// `perMinute` requests that refills evenly (GCRA: one timestamp per user and budget, no counters to expire in
// windows). One request may spend from several budgets (every request from `requests`, a submission also from
// `submits`); they are checked and spent in one script, so the limiter costs one round trip per request, and none of
// its own for a native submission, whose admit script spends them (`plan`). A refusal is remembered for as long as
// it holds, so calls over budget are answered without Redis.
import type { Redis } from 'ioredis';

// GCRA as a Lua function, so the limiter's own script and the admit script (which spends a native submission's
// budgets in the same step that queues it, see FarmQueue.submit) share one definition. `keys`: the user's theoretical
// arrival time (ms) in each budget; `span`: the bucket span ms; `intervals`: one emission interval ms per key. All or
// nothing: a request refused by any budget spends from none of them. Returns 0, 0 when allowed (and spent), or i, ms
// until one more request fits, when budget i (1-based) refuses. Uses the server clock, so gateways with skewed clocks
// still agree.
export const GCRA_LIB = `
local function gcra_take(keys, span, intervals)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local next_tats = {}
  for i, key in ipairs(keys) do
    local tat = tonumber(redis.call('GET', key) or '0')
    if tat < now then tat = now end
    local next_tat = tat + intervals[i]
    if next_tat - now > span then return i, math.ceil(next_tat - now - span) end
    next_tats[i] = next_tat
  end
  for i, key in ipairs(keys) do
    redis.call('SET', key, next_tats[i], 'PX', math.ceil(next_tats[i] - now))
  end
  return 0, 0
end
`;

// KEYS: the budgets' keys. ARGV[1]: bucket span ms, then one emission interval ms per key. Returns {0, 0} or {i, ms}.
const GCRA = `${GCRA_LIB}
local intervals = {}
for i = 2, #ARGV do intervals[i - 1] = tonumber(ARGV[i]) end
return {gcra_take(KEYS, tonumber(ARGV[1]), intervals)}`;

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

/**
 * A spend worked out but not yet sent: the keys and arguments of `gcra_take`, for a script that runs it beside other
 * work (the admit), and `decide` for that script's answer.
 */
export interface PlannedSpend {
  keys: string[];
  spanMs: number;
  intervals: number[];
  /** The decision for gcra_take's answer (0, or the 1-based index of the budget that refused, and its wait). */
  decide(refusedBy: number, waitMs: number): RateDecision;
}

type GcraRedis = Redis & { farmGcra(count: number, ...keysAndArgs: (string | number)[]): Promise<[number, number]> };

export class RateLimiter {
  private readonly spanMs = 60_000;
  private readonly redis: GcraRedis;
  /**
   * Refusals this process has seen, by budget and user: until when they hold (local monotonic ms). Under GCRA
   * nothing frees a refused budget before its wait is over (other gateways can only spend more), so within it the
   * answer is known without asking Redis: a client that keeps calling over its budget costs Redis nothing.
   */
  private readonly refusedUntil = new Map<string, number>();

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

  /**
   * Works out a spend of one request from each named budget (default: all of them) without sending it: a refusal
   * when this process already knows one of them is spent, nothing when there is nothing to spend.
   */
  plan(user: string, names?: readonly string[]): { refused: RateDecision } | { spend: PlannedSpend } | null {
    const spend = names ? this.budgets.filter((b) => names.includes(b.name)) : this.budgets;
    if (spend.length === 0) return null;
    const now = performance.now();
    for (const b of spend) {
      const until = this.refusedUntil.get(this.memoKey(b, user));
      if (until === undefined) continue;
      if (until > now) return { refused: refusedBy(b, until - now) };
      this.refusedUntil.delete(this.memoKey(b, user));
    }
    return {
      spend: {
        keys: spend.map((b) => this.key(b.name, user)),
        spanMs: this.spanMs,
        intervals: spend.map((b) => this.spanMs / b.perMinute),
        decide: (index, waitMs) => {
          if (index === 0) return { allowed: true, retryAfterSeconds: 0 };
          const budget = spend[index - 1];
          this.remember(budget, user, waitMs);
          return refusedBy(budget, waitMs);
        },
      },
    };
  }

  /** Spends one request from each named budget (default: all of them), or from none if any is exhausted. */
  async take(user: string, names?: readonly string[]): Promise<RateDecision> {
    const planned = this.plan(user, names);
    if (!planned) return { allowed: true, retryAfterSeconds: 0 };
    if ('refused' in planned) return planned.refused;
    const { keys, spanMs, intervals, decide } = planned.spend;
    const [refused, waitMs] = await this.redis.farmGcra(keys.length, ...keys, spanMs, ...intervals);
    return decide(refused, waitMs);
  }

  private memoKey(budget: Budget, user: string): string {
    return `${budget.name}\0${user}`;
  }

  private remember(budget: Budget, user: string, waitMs: number): void {
    const now = performance.now();
    // expired entries go when the map grows (they are also dropped when read)
    if (this.refusedUntil.size >= MEMO_SWEEP_AT) for (const [k, until] of this.refusedUntil) if (until <= now) this.refusedUntil.delete(k);
    this.refusedUntil.set(this.memoKey(budget, user), now + waitMs);
  }
}

const MEMO_SWEEP_AT = 1000;

/** A submission whose planned spend (RateLimiter.plan) the admit refused: nothing was queued. */
export class RateRefusal extends Error {
  constructor(readonly decision: RateDecision) {
    super(`refused by the ${decision.refusedBy?.name ?? ''} budget; retry in ${decision.retryAfterSeconds} s`);
  }
}

function refusedBy(budget: Budget, waitMs: number): RateDecision {
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), refusedBy: budget };
}
