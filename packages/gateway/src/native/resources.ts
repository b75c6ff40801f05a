// Images from storage (or a redirect to a signed URL), and the lists of models, samplers and LoRAs.
import { Router } from 'express';
import { NotFoundError, type Catalog } from '@farm/core';
import type { FarmQueue } from '@farm/queue';
import type { Storage } from '@farm/storage';
import { listSamplers, listSchedulers } from '@farm/engine/schedulers';
import { asyncRoute } from '../http-errors';

export function resourceRoutes(deps: { queue: FarmQueue; storage: Storage; catalog(): Promise<Catalog>; signedUrls: boolean }): Router {
  const r = Router();
  r.get(
    '/v1/images/:jobId/:file',
    asyncRoute(async (req, res) => {
      const jobId = String(req.params.jobId);
      const file = String(req.params.file);
      const job = await deps.queue.get(jobId);
      if (!job || job.owner !== req.user?.id || !/^\d+\.png$/.test(file)) throw new NotFoundError('no such image');
      const key = `images/${jobId}/${file}`;
      if (deps.signedUrls) {
        const url = await deps.storage.signedUrl(key, 900);
        if (url) return res.redirect(302, url);
      }
      const body = await deps.storage.get(key);
      if (!body) throw new NotFoundError('no such image');
      res.type('image/png').setHeader('cache-control', 'private, max-age=86400, immutable');
      res.send(body);
    }),
  );
  r.get(
    '/v1/models',
    asyncRoute(async (_req, res) => {
      const [c, live] = await Promise.all([deps.catalog(), deps.queue.workers()]);
      // live workers that can run each model, so a client (the web page) can say when none can before submitting
      const workers = Object.fromEntries(c.models.map((m) => [m, live.filter((w) => w.models.includes(m)).length]));
      res.json({ models: c.models, default: c.defaultModel ?? c.models[0] ?? null, workers });
    }),
  );
  r.get('/v1/samplers', (_req, res) => {
    res.json({ samplers: listSamplers(), schedulers: listSchedulers() });
  });
  r.get(
    '/v1/loras',
    asyncRoute(async (_req, res) => {
      res.json({ loras: (await deps.catalog()).loras });
    }),
  );
  return r;
}
