// Maps errors to JSON answers: FarmError -> its status and code; malformed JSON -> 400; anything else -> 500
// without internals.
import type { ErrorRequestHandler, Request, Response, NextFunction, RequestHandler } from 'express';
import { FarmError, RateLimitedError } from '@farm/core';

export const asyncRoute = (fn: (req: Request, res: Response, next: NextFunction) => Promise<unknown>): RequestHandler =>
  (req, res, next) => { fn(req, res, next).catch(next); };

export function errorBody(e: FarmError) {
  return { error: { code: e.code, message: e.message, ...('field' in e && e.field ? { field: e.field } : {}) } };
}

export function errorHandler(log: (msg: string, fields: Record<string, unknown>) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof FarmError) {
      if (err instanceof RateLimitedError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      // `detail` is where AUTOMATIC1111 clients look for the reason
      return res.status(err.status).json({ ...errorBody(err), detail: err.message });
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return res.status(400).json({ error: { code: 'malformed_json', message: `the body is not valid JSON: ${e.message}` } });
    if (e.type === 'entity.too.large') return res.status(413).json({ error: { code: 'too_large', message: 'the request body is larger than the configured limit (BODY_LIMIT)' } });
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return res.status(e.status).json({ error: { code: 'bad_request', message: e.message ?? 'bad request' } });
    log('unhandled error', { path: req.path, error: (err as Error)?.stack ?? String(err) });
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
