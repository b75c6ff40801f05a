// Middleware (after login): every request spends from the user's request budget; job submissions also spend from
// the submission budget, in the same Redis round trip. Over budget: 429 with Retry-After. If Redis cannot answer,
// the request goes on: the route itself answers 503 when it needs Redis, and reads that do not should not fail
// because the limiter is blind.
import type { RequestHandler } from 'express';
import type { Budget, FarmQueue } from '@farm/queue';

const SUBMIT_PATHS = new Set(['/v1/jobs', '/v1/jobs/stream', '/sdapi/v1/txt2img', '/sdapi/v1/img2img']);

export interface RequestLimits {
  queue: Pick<FarmQueue, 'rateLimiter'>;
  requestsPerMinute: number;
  submitsPerMinute: number;
}

const REFUSALS: Record<string, (perMinute: number) => string> = {
  requests: (n) => `too many requests: the limit is ${n} per minute per user (RATE_LIMIT_REQUESTS)`,
  submits: (n) => `too many job submissions: the limit is ${n} per minute per user (RATE_LIMIT_SUBMITS)`,
};

export function limitRequests(limits: RequestLimits): RequestHandler {
  const budgets: Budget[] = [];
  if (limits.requestsPerMinute > 0) budgets.push({ name: 'requests', perMinute: limits.requestsPerMinute });
  if (limits.submitsPerMinute > 0) budgets.push({ name: 'submits', perMinute: limits.submitsPerMinute });
  const limiter = budgets.length > 0 ? limits.queue.rateLimiter(budgets) : null;
  const forRequest = budgets.some((b) => b.name === 'requests') ? ['requests'] : [];
  const forSubmit = budgets.map((b) => b.name);
  return (req, res, next) => {
    const user = req.user?.id;
    const spend = req.method === 'POST' && SUBMIT_PATHS.has(req.path) ? forSubmit : forRequest;
    if (!user || !limiter || spend.length === 0) return next();
    limiter.take(user, spend).then(
      (d) => {
        if (d.allowed || !d.refusedBy) return next();
        const message = REFUSALS[d.refusedBy.name](d.refusedBy.perMinute);
        res.setHeader('Retry-After', String(d.retryAfterSeconds));
        res.status(429).json({ error: { code: 'rate_limited', message: `${message}; retry in ${d.retryAfterSeconds} s` }, detail: message });
      },
      () => next(),
    );
  };
}
