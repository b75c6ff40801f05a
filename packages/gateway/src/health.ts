// /healthz: the process answers. /readyz: Redis answers and the gateway is not shutting down; live workers are
// reported beside it (`workers`), not required: a gateway without workers still answers every call, with a clear
// 503 where a call needs one, which is better than being taken out of the Service and refusing connections.
import { Router } from 'express';
import type { FarmQueue } from '@farm/queue';
import type { ShutdownState } from './shutdown';

export function healthRoutes(queue: FarmQueue, shutdown?: ShutdownState): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    if (shutdown?.draining) return res.status(503).json({ status: 'not ready', reason: 'shutting down' });
    try {
      await queue.ping();
    } catch (e) {
      return res.status(503).json({ status: 'not ready', reason: (e as Error).message });
    }
    const workers = await queue.workers().catch(() => []);
    res.json({ status: 'ready', workers: workers.length, ...(workers.length === 0 ? { warning: 'no live worker: calls that need one answer 503' } : {}) });
  });
  return r;
}
