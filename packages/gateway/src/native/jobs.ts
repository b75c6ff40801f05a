// Native job API: submit (202), read, list, cancel. The SSE stream lives in ./events.
import { Router, type Request } from 'express';
import { NotFoundError, ValidationError, isExtrasJobBody, parseExtrasJobRequest, parseJobRequest, present, type Catalog, type FarmConfig } from '@farm/core';
import { isTerminal, type FarmQueue, type JobEnvelope } from '@farm/queue';
import { requestIdOf } from '../access-log';
import { asyncRoute } from '../http-errors';
import { assertPublicUrl, parseAllowedHosts } from '../webhooks/send';
import type { Metrics } from '../metrics';
import { NATIVE_IMAGE_FIELDS, checkRequestImages } from '../images/check-request-images';
import { liveWorkerProblem } from '../guards/live-worker';
import { extrasJobs } from '../a1111/extras';

/** `limit` 1..100 (default 20) and `offset` 0..1e6 (default 0), whole numbers; anything else is a 422 naming it. */
export function parseListQuery(query: Record<string, unknown>): { limit: number; offset: number } {
  const read = (name: string, fallback: number, min: number, max: number) => {
    const raw = query[name];
    if (raw === undefined) return fallback;
    if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new ValidationError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`, name);
    }
    return Number(raw);
  };
  return { limit: read('limit', 20, 1, 100), offset: read('offset', 0, 0, 1_000_000) };
}

export interface JobRoutesDeps {
  config: FarmConfig;
  queue: FarmQueue;
  catalog(): Promise<Catalog>;
  metrics: Metrics;
}

/** The job if it exists and belongs to the caller; other users' jobs are indistinguishable from missing ones. */
export async function ownJob(queue: FarmQueue, req: Request, id: string): Promise<JobEnvelope> {
  const e = await queue.get(id);
  if (!e || e.owner !== req.user?.id) throw new NotFoundError(`no job ${id}`);
  return e;
}

async function parseExtras(body: unknown, catalog: Catalog) {
  const { request, model, ...rest } = parseExtrasJobRequest(body, catalog.upscalers ?? []);
  if (model !== undefined && !catalog.models.includes(model)) throw new ValidationError(`model "${model}" is not on this farm (an extras job needs none; it only routes the job)`, 'model');
  return { params: (await extrasJobs(request, catalog, model, () => ['image']))[0], ...rest };
}

export function jobRoutes(deps: JobRoutesDeps): Router {
  const r = Router();
  const allowedWebhookHosts = parseAllowedHosts(deps.config.WEBHOOK_ALLOWED_HOSTS);
  const limits = { maxPixels: deps.config.MAX_PIXELS, maxSteps: deps.config.MAX_STEPS, maxImagesPerRequest: deps.config.MAX_IMAGES_PER_REQUEST };

  r.post('/v1/jobs', asyncRoute(async (req, res) => {
    const catalog = await deps.catalog();
    // kind "extras" (A1111's postprocessing upscale of one image) has its own body; everything else is a generation
    const { params, webhook, priority, idempotencyKey } = isExtrasJobBody(req.body) ? await parseExtras(req.body, catalog) : parseJobRequest(req.body, limits, catalog);
    if (params.kind !== 'extras') await checkRequestImages(params, NATIVE_IMAGE_FIELDS);
    if (webhook && !deps.config.WEBHOOK_ALLOW_PRIVATE) {
      await assertPublicUrl(webhook.url, allowedWebhookHosts).catch((e: Error) => { throw new ValidationError(`webhook refused: ${e.message}`, 'webhook'); });
    }
    const envelope = await deps.queue.submit(params, { owner: req.user!.id, webhook, priority, idempotencyKey, requestId: requestIdOf(res) });
    deps.metrics.submitted();
    // the job waits in the queue for a worker (one may be starting: autoscaling counts the queue); say so
    const problem = await liveWorkerProblem(deps.queue, params.model).catch(() => null);
    res.status(202).location(`/v1/jobs/${envelope.id}`).json({ ...present(envelope), ...(problem ? { warnings: [`${problem}; the job waits until one starts`] } : {}) });
  }));

  r.get('/v1/jobs', asyncRoute(async (req, res) => {
    const { limit, offset } = parseListQuery(req.query as Record<string, unknown>);
    const { jobs, total } = await deps.queue.list(req.user!.id, { limit, offset });
    res.json({ jobs: jobs.map((e) => present(e)), total, limit, offset });
  }));

  r.get('/v1/jobs/:id', asyncRoute(async (req, res) => {
    const e = await ownJob(deps.queue, req, String(req.params.id));
    res.json(present(e));
  }));

  r.delete('/v1/jobs/:id', asyncRoute(async (req, res) => {
    await ownJob(deps.queue, req, String(req.params.id));
    const e = (await deps.queue.cancel(String(req.params.id)))!;
    res.status(isTerminal(e.status) ? 200 : 202).json(present(e));
  }));

  return r;
}
