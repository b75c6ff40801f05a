// One access-log line per request, when its response is finished (or the client went away): method, the route
// pattern and the path, status, milliseconds, user, request id (X-Request-Id from the caller when it is sane, else a
// new one, echoed back), and the job id of a submission. 5xx log at error, 4xx at warn, the rest at info; probes
// (/healthz, /readyz) at debug, so they do not drown the log.
import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

const SANE_ID = /^[\w.:-]{1,128}$/;
const PROBES = new Set(['/healthz', '/readyz']);

export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-request-id', requestId);
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const aborted = !res.writableFinished;
      const status = res.statusCode;
      const location = String(res.getHeader('location') ?? '');
      const jobId = /^\/v1\/jobs\/([\w-]+)$/.exec(location)?.[1];
      const level = PROBES.has(req.path) ? 'debug' : status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      logger[level](
        {
          req_id: requestId,
          method: req.method,
          route: req.route?.path ?? null,
          path: req.path,
          status,
          ms: Math.round(ms * 10) / 10,
          user: req.user?.id ?? null,
          ...(jobId ? { job_id: jobId } : {}),
          ...(aborted ? { aborted: true } : {}),
        },
        `${req.method} ${req.path} ${status}`,
      );
    };
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}

/** The id accessLog gave this request (undefined where accessLog is not mounted). */
export function requestIdOf(res: Response): string | undefined {
  const id: unknown = res.locals.requestId;
  return typeof id === 'string' ? id : undefined;
}
