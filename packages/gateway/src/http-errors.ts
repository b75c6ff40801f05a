// Maps errors to JSON answers: FarmError -> its status and code; a Redis that cannot be reached (on any route,
// whichever client call hit it) -> 503; malformed JSON -> 400; anything else -> 500 without internals. A client
// that went away gets nothing and is not an error.
import type { ErrorRequestHandler, Request, Response, NextFunction, RequestHandler } from 'express';
import { FarmError, RateLimitedError, UnavailableError } from '@farm/core';
import { isRedisConnectionError } from '@farm/queue';

export const asyncRoute =
  (fn: (req: Request, res: Response, next: NextFunction) => Promise<unknown>): RequestHandler =>
  (req, res, next) => {
    fn(req, res, next).catch(next);
  };

export function errorBody(e: FarmError) {
  return { error: { code: e.code, message: e.message, ...('field' in e && e.field ? { field: e.field } : {}) } };
}

/** A Redis connection failure seen anywhere becomes the 503 that says so. */
export function asFarmError(err: unknown): unknown {
  return isRedisConnectionError(err) ? new UnavailableError(`Redis is unreachable: ${(err as Error).message}`) : err;
}

/** Sets Retry-After for answers that carry one (429 rate limits and caps). */
export function setRetryAfter(res: Response, err: unknown): void {
  if (err instanceof RateLimitedError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
}

export function clientGone(req: Request, res: Response): boolean {
  // not req.destroyed: a request whose body was read is destroyed too
  return res.destroyed || (req.socket?.destroyed ?? false);
}

export function errorHandler(
  log: (msg: string, fields: Record<string, unknown>) => void,
  debug: (msg: string, fields: Record<string, unknown>) => void = () => {},
): ErrorRequestHandler {
  return (raw, req, res, _next) => {
    if (res.headersSent) return;
    const err = asFarmError(raw);
    if (clientGone(req, res) || (err as { type?: string }).type === 'request.aborted') {
      debug('client went away', { path: req.path, reason: (err as Error)?.message });
      return;
    }
    if (err instanceof FarmError) {
      setRetryAfter(res, err);
      // `detail` is where AUTOMATIC1111 clients look for the reason
      return res.status(err.status).json({ ...errorBody(err), detail: err.message });
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed')
      return res
        .status(400)
        .json({ error: { code: 'malformed_json', message: `the body is not valid JSON: ${e.message}` }, detail: `the body is not valid JSON: ${e.message}` });
    if (e.type === 'entity.too.large')
      return res.status(413).json({
        error: { code: 'too_large', message: 'the request body is larger than the configured limit (BODY_LIMIT)' },
        detail: 'the request body is larger than the configured limit (BODY_LIMIT)',
      });
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      return res.status(e.status).json({ error: { code: 'bad_request', message: e.message ?? 'bad request' }, detail: e.message ?? 'bad request' });
    log('unhandled error', { path: req.path, error: (err as Error)?.stack ?? String(err) });
    res.status(500).json({ error: { code: 'internal', message: 'internal error' }, detail: 'internal error' });
  };
}
