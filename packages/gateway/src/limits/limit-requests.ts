// Middleware (after login): every request spends from the user's request budget; job submissions also spend from
// the submission budget, in the same Redis round trip. Over budget: 429 with Retry-After. If Redis cannot answer,
// the request goes on: the route itself answers 503 when it needs Redis, and reads that do not should not fail
// because the limiter is blind.
//
// A native submission (POST /v1/jobs, /v1/jobs/stream) sends nothing here: its budgets are spent by the admit script
// that queues it (`deferredSpend`, FarmQueue.submit's `spend`), so the limiter costs it no round trip of its own; one
// refused before its admit (a bad body, image or webhook) spends them then (`spendDeferredNow`), and a refusal still
// wins over the route's own (a body that is not JSON, or too large, is answered before the route). The limiter
// remembers refusals for as long as they hold: calls over budget are answered without Redis.
import type { RequestHandler, Response } from 'express';
import { RateLimitedError } from '@farm/core';
import { RateRefusal, type Budget, type FarmQueue, type PlannedSpend, type RateDecision, type RateLimiter } from '@farm/queue';

const SUBMIT_PATHS = new Set(['/v1/jobs', '/v1/jobs/stream', '/sdapi/v1/txt2img', '/sdapi/v1/img2img']);
/** submissions whose route spends the budgets itself (see deferredSpend) */
const DEFERRED_PATHS = new Set(['/v1/jobs', '/v1/jobs/stream']);

export interface RequestLimits {
  queue: Pick<FarmQueue, 'rateLimiter'>;
  requestsPerMinute: number;
  submitsPerMinute: number;
}

const REFUSALS: Record<string, (perMinute: number) => string> = {
  requests: (n) => `too many requests: the limit is ${n} per minute per user (RATE_LIMIT_REQUESTS)`,
  submits: (n) => `too many job submissions: the limit is ${n} per minute per user (RATE_LIMIT_SUBMITS)`,
};

/** The refusal to answer for a decision, or null when the request may go on. */
function refusalError(d: RateDecision): RateLimitedError | null {
  if (d.allowed || !d.refusedBy) return null;
  const message = REFUSALS[d.refusedBy.name](d.refusedBy.perMinute);
  return new RateLimitedError(`${message}; retry in ${d.retryAfterSeconds} s`, d.retryAfterSeconds);
}

/** Spends now; the refusal to answer, or null. A blind limiter (Redis down) lets the request through. */
function verdict(limiter: RateLimiter, user: string, names: string[]): Promise<RateLimitedError | null> {
  return limiter.take(user, names).then(refusalError, () => null);
}

const DEFERRED = 'deferredSpend';

/** A native submission's spend, left to its route. */
interface Deferred {
  limiter: RateLimiter;
  user: string;
  names: string[];
  /** spent already by spendDeferredNow */
  spent?: boolean;
}

export function limitRequests(limits: RequestLimits): RequestHandler {
  const budgets: Budget[] = [];
  if (limits.requestsPerMinute > 0) budgets.push({ name: 'requests', perMinute: limits.requestsPerMinute });
  if (limits.submitsPerMinute > 0) budgets.push({ name: 'submits', perMinute: limits.submitsPerMinute });
  const limiter = budgets.length > 0 ? limits.queue.rateLimiter(budgets) : null;
  const forRequest = budgets.some((b) => b.name === 'requests') ? ['requests'] : [];
  const forSubmit = budgets.map((b) => b.name);
  return (req, res, next) => {
    const user = req.user?.id;
    const submission = req.method === 'POST' && SUBMIT_PATHS.has(req.path);
    const spend = submission ? forSubmit : forRequest;
    if (!user || !limiter || spend.length === 0) return next();
    if (submission && DEFERRED_PATHS.has(req.path)) {
      res.locals[DEFERRED] = { limiter, user, names: spend } satisfies Deferred;
      return next();
    }
    void verdict(limiter, user, spend).then((refused) => next(refused ?? undefined));
  };
}

/**
 * For a native submission about to be queued: the spend its admit makes (FarmQueue.submit's `spend`; a RateRefusal
 * from it goes through `asRateLimited`), or undefined when there is none (no limits, or spent already). Throws the
 * 429 at once when this gateway already knows a budget is spent.
 */
export function deferredSpend(res: Response): PlannedSpend | undefined {
  const d = res.locals[DEFERRED] as Deferred | undefined;
  if (!d || d.spent) return undefined;
  const planned = d.limiter.plan(d.user, d.names);
  if (!planned) return undefined;
  if ('refused' in planned) {
    const refused = refusalError(planned.refused);
    if (refused) throw refused;
    return undefined;
  }
  return planned.spend;
}

/** For a native submission refused before its admit: spends its budgets now, and throws their 429 if they refuse. */
export async function spendDeferredNow(res: Response): Promise<void> {
  const d = res.locals[DEFERRED] as Deferred | undefined;
  if (!d || d.spent) return;
  d.spent = true;
  const refused = await verdict(d.limiter, d.user, d.names);
  if (refused) throw refused;
}

/** The 429 of a submission whose admit refused its spend; anything else as it is. */
export function asRateLimited(e: unknown): unknown {
  return e instanceof RateRefusal ? (refusalError(e.decision) ?? e) : e;
}
