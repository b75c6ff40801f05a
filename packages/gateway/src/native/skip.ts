// POST /v1/jobs/:id/skip: A1111's Skip for a native job (the web page's Skip button). The job's current iteration of
// n_iter ends now, decoded where it stopped, and the next iterations run (the worker's handling is the one /sdapi/v1/skip
// uses). Only a running job can skip; any other state is a 409 that names it, and nothing changes.
import { Router } from 'express';
import { FarmError, present } from '@farm/core';
import type { FarmQueue } from '@farm/queue';
import { asyncRoute } from '../http-errors';
import { ownJob } from './jobs';

export function skipRoutes(deps: { queue: FarmQueue }): Router {
  const r = Router();
  r.post(
    '/v1/jobs/:id/skip',
    asyncRoute(async (req, res) => {
      const id = String(req.params.id);
      const job = await ownJob(deps.queue, req, id);
      if (job.status !== 'running') throw new FarmError('not_running', 409, `job ${id} is ${job.status}; only a running job can skip its current iteration`);
      await deps.queue.skip(id);
      res.status(202).json(present(job));
    }),
  );
  return r;
}
