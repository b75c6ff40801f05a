// Middleware (after login): every request spends from the user's request budget; job submissions also spend from
// the submission budget. Over budget: 429 with Retry-After. If Redis cannot answer, the request goes on: the route
// itself answers 503 when it needs Redis, and reads that do not should not fail because the limiter is blind.
import type { RequestHandler } from 'express';
import type { FarmQueue } from '@farm/queue';

const SUBMIT_PATHS = new Set(['/v1/jobs', '/v1/jobs/stream', '/sdapi/v1/txt2img', '/sdapi/v1/img2img']);

export interface RequestLimits {
  queue: Pick<FarmQueue, 'rateLimiter'>;
  requestsPerMinute: number;
  submitsPerMinute: number;
}

export function limitRequests(limits: RequestLimits): RequestHandler {
  const requests = limits.requestsPerMinute > 0 ? limits.queue.rateLimiter('requests', limits.requestsPerMinute) : null;
  const submits = limits.submitsPerMinute > 0 ? limits.queue.rateLimiter('submits', limits.submitsPerMinute) : null;
  return (req, res, next) => {
    const user = req.user?.id;
    const isSubmit = req.method === 'POST' && SUBMIT_PATHS.has(req.path);
    if (!user || (!requests && !(isSubmit && submits))) return next();
    const decide = async (): Promise<[number, string] | null> => {
      if (requests) {
        const d = await requests.take(user);
        if (!d.allowed) return [d.retryAfterSeconds, `too many requests: the limit is ${requests.perMinute} per minute per user (RATE_LIMIT_REQUESTS)`];
      }
      if (isSubmit && submits) {
        const d = await submits.take(user);
        if (!d.allowed) return [d.retryAfterSeconds, `too many job submissions: the limit is ${submits.perMinute} per minute per user (RATE_LIMIT_SUBMITS)`];
      }
      return null;
    };
    decide().then(
      (refusal) => (refusal ? refuse(...refusal) : next()),
      () => next(),
    );

    function refuse(retryAfterSeconds: number, message: string) {
      res.setHeader('Retry-After', String(retryAfterSeconds));
      res.status(429).json({ error: { code: 'rate_limited', message: `${message}; retry in ${retryAfterSeconds} s` }, detail: message });
    }
  };
}
