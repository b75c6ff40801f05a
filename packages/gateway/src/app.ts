// The express app: login, native API, health, metrics, the web page; A1111 routes plug in as extra routers.
import express, { type RequestHandler, type Router } from 'express';
import { fileURLToPath } from 'node:url';
import type { Catalog, FarmConfig } from '@farm/core';
import type { FarmQueue } from '@farm/queue';
import type { Storage } from '@farm/storage';
import { jobRoutes } from './native/jobs';
import { resourceRoutes } from './native/resources';
import { eventRoutes } from './native/events';
import { skipRoutes } from './native/skip';
import { healthRoutes } from './health';
import { createMetrics, type Metrics } from './metrics';
import { metricsAccess } from './metrics-access';
import { errorHandler } from './http-errors';
import { limitRequests } from './limits/limit-requests';
import { ShutdownState } from './shutdown';
import { securityHeaders } from './guards/security-headers';
import { sameOriginGuard } from './guards/same-origin';
import { accessLog } from './access-log';
import { jsonBody } from './json-body';
import { pino, type Logger } from 'pino';

export interface AppDeps {
  config: FarmConfig;
  queue: FarmQueue;
  storage: Storage;
  auth: RequestHandler;
  catalog(): Promise<Catalog>;
  extraRouters?: (ctx: { metrics: Metrics }) => Router[];
  log?: (msg: string, fields: Record<string, unknown>) => void;
  /** low-importance events (a client that went away) */
  debug?: (msg: string, fields: Record<string, unknown>) => void;
  shutdown?: ShutdownState;
  /** the access log goes here (one line per request) */
  logger?: Logger;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

export function createApp(deps: AppDeps) {
  const app = express();
  const metrics = createMetrics(deps.queue);
  const shutdown = deps.shutdown ?? new ShutdownState();
  app.disable('x-powered-by');
  // X-Forwarded-* are believed only from the proxies named in TRUST_PROXY (by default none)
  app.set('trust proxy', deps.config.TRUST_PROXY);
  // without a logger the access log is silent but still gives each request its id (carried onto submitted jobs)
  app.use(accessLog(deps.logger ?? pino({ level: 'silent' })));
  app.use(shutdown.middleware);
  app.use(securityHeaders());
  app.use(healthRoutes(deps.queue, shutdown));
  app.get('/metrics', metricsAccess(deps.config.METRICS_TOKEN, deps.auth), async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(sameOriginGuard());
  app.use(deps.auth);
  app.use(limitRequests({ queue: deps.queue, requestsPerMinute: deps.config.RATE_LIMIT_REQUESTS, submitsPerMinute: deps.config.RATE_LIMIT_SUBMITS }));
  app.use(jsonBody(deps.config.BODY_LIMIT));
  app.use(jobRoutes({ config: deps.config, queue: deps.queue, catalog: deps.catalog, metrics, shutdown }));
  app.use(eventRoutes({ queue: deps.queue, shutdown }));
  app.use(skipRoutes({ queue: deps.queue }));
  app.use(resourceRoutes({ queue: deps.queue, storage: deps.storage, catalog: deps.catalog, signedUrls: deps.config.SIGNED_URLS }));
  for (const router of deps.extraRouters?.({ metrics }) ?? []) app.use(router);
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  app.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}` }, detail: 'Not Found' });
  });
  app.use(errorHandler(deps.log ?? (() => {}), deps.debug));
  return { app, metrics, shutdown };
}
