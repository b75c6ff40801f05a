// GET /v1/jobs/:id/events: Server-Sent Events of one job (./job-stream): the current envelope at once, then each
// change, until a terminal state.
import { Router } from 'express';
import type { FarmQueue } from '@farm/queue';
import { asyncRoute } from '../http-errors';
import type { ShutdownState } from '../shutdown';
import { ownJob } from './jobs';
import { subscribeJob } from './job-stream';

export function eventRoutes(deps: { queue: FarmQueue; shutdown: ShutdownState }): Router {
  const r = Router();
  r.get(
    '/v1/jobs/:id/events',
    asyncRoute(async (req, res) => {
      const id = String(req.params.id);
      await ownJob(deps.queue, req, id);
      const stream = await subscribeJob(deps, req, res, id);
      stream.open(await deps.queue.get(id));
    }),
  );

  return r;
}
