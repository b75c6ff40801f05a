// The worker's own small HTTP server (WORKER_HEALTH_PORT): GET /healthz for the liveness probe (503 once the
// worker loop has made no progress for WORKER_STUCK_SECONDS), GET /metrics for Prometheus. Nothing else: workers
// never serve clients.
import { createServer, type Server } from 'node:http';
import { isStuck, type WorkerMetrics } from './worker-metrics';

export async function startHealthServer(opts: {
  port: number;
  host?: string;
  metrics: WorkerMetrics;
  stuckMs: number;
  now?: () => number;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const now = opts.now ?? Date.now;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      const idleMs = now() - opts.metrics.lastActivityMs();
      const stuck = isStuck(opts.metrics.lastActivityMs(), now(), opts.stuckMs);
      res
        .writeHead(stuck ? 503 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify({ status: stuck ? 'stuck' : 'ok', last_activity_seconds_ago: Math.round(idleMs / 100) / 10 }));
      return;
    }
    if (path === '/metrics') {
      opts.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.metrics.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(e.message),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return { server, port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
