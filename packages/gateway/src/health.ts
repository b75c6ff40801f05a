// /healthz: the process answers. /readyz: Redis answers, at least one worker is alive and the gateway is not shutting down.
import { Router } from 'express';
import type { FarmQueue } from '@farm/queue';
import type { ShutdownState } from './shutdown';

export function healthRoutes(queue: FarmQueue, shutdown?: ShutdownState): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  r.get('/readyz', async (_req, res) => {
    if (shutdown?.draining) return res.status(503).json({ status: 'not ready', reason: 'shutting down' });
    try {
      await queue.ping();
      const workers = await queue.workers();
      if (workers.length === 0) return res.status(503).json({ status: 'not ready', reason: 'no live worker' });
      res.json({ status: 'ready', workers: workers.length });
    } catch (e) {
      res.status(503).json({ status: 'not ready', reason: (e as Error).message });
    }
  });
  return r;
}
