// Middleware (after login): every request spends from the user's request budget; job submissions also spend from
// the submission budget, in the same Redis round trip. Over budget: 429 with Retry-After. If Redis cannot answer,
// the request goes on: the route itself answers 503 when it needs Redis, and reads that do not should not fail
// because the limiter is blind.
//
// A native submission (POST /v1/jobs, /v1/jobs/stream) does not wait here: its round trip runs while the body is
// read and parsed, and the route awaits the verdict (`rateLimitVerdict`) before it checks images and the webhook's
// address and queues the job — the limiter then costs the submission no round trip of its own. A refusal still wins
// over a body the route's parse refuses (a body that is not JSON, or too large, is answered before the route).
import type { RequestHandler, Response } from 'express';
import { RateLimitedError } from '@farm/core';
import type { Budget, FarmQueue, RateDecision } from '@farm/queue';

const SUBMIT_PATHS = new Set(['/v1/jobs', '/v1/jobs/stream', '/sdapi/v1/txt2img', '/sdapi/v1/img2img']);
/** submissions whose route awaits the verdict itself (see rateLimitVerdict) */
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
function refusal(d: RateDecision): RateLimitedError | null {
  if (d.allowed || !d.refusedBy) return null;
  const message = REFUSALS[d.refusedBy.name](d.refusedBy.perMinute);
  return new RateLimitedError(`${message}; retry in ${d.retryAfterSeconds} s`, d.retryAfterSeconds);
}

const VERDICT = 'rateLimitVerdict';

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
    // a blind limiter (Redis down) lets the request through
    const verdict = limiter.take(user, spend).then(refusal, () => null);
    if (submission && DEFERRED_PATHS.has(req.path)) {
      res.locals[VERDICT] = verdict;
      return next();
    }
    void verdict.then((refused) => next(refused ?? undefined));
  };
}

/** For a deferred submission: throws its 429 when the limiter refused it (nothing to wait for elsewhere). */
export async function rateLimitVerdict(res: Response): Promise<void> {
  const refused = (await (res.locals[VERDICT] as Promise<RateLimitedError | null> | undefined)) ?? null;
  if (refused) throw refused;
}
