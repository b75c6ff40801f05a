// Who may read /metrics: a scraper presenting METRICS_TOKEN as a Bearer token (no user account needed), or any
// logged-in user. Prometheus' `authorization: {credentials: ...}` (or a ServiceMonitor's bearerTokenSecret) sends it.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function metricsAccess(token: string | undefined, login: RequestHandler): RequestHandler {
  const expected = token ? digest(token) : null;
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const presented = /^Bearer (\S+)$/.exec(header)?.[1];
    if (expected && presented && timingSafeEqual(digest(presented), expected)) {
      next();
      return;
    }
    login(req, res, next);
  };
}
