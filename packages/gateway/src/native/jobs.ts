// Native job API: submit (202), submit-and-stream (the job's SSE stream as the answer), read, list, cancel. The SSE
// stream of an existing job lives in ./events.
import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import {
  FarmError,
  NotFoundError,
  ValidationError,
  isExtrasJobBody,
  parseExtrasJobRequest,
  parseJobRequest,
  present,
  type Catalog,
  type FarmConfig,
} from '@farm/core';
import { isTerminal, type FarmQueue, type JobEnvelope } from '@farm/queue';
import { requestIdOf } from '../access-log';
import { asRateLimited, deferredSpend, spendDeferredNow } from '../limits/limit-requests';
import { asyncRoute } from '../http-errors';
import { assertPublicUrl, parseAllowedHosts } from '../webhooks/send';
import type { Metrics } from '../metrics';
import { NATIVE_IMAGE_FIELDS, checkRequestImages } from '../images/check-request-images';
import { liveWorkerProblem, recentWorkers } from '../guards/live-worker';
import { extrasJobs } from '../a1111/extras';
import type { ShutdownState } from '../shutdown';
import { subscribeJob } from './job-stream';

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
  /** the cached catalog; `fresh` reads it now */
  catalog(opts?: { fresh?: boolean }): Promise<Catalog>;
  metrics: Metrics;
  shutdown: ShutdownState;
}

/** The job if it exists and belongs to the caller; other users' jobs are indistinguishable from missing ones. */
export async function ownJob(queue: FarmQueue, req: Request, id: string): Promise<JobEnvelope> {
  const e = await queue.get(id);
  if (!e || e.owner !== req.user?.id) throw new NotFoundError(`no job ${id}`);
  return e;
}

async function parseExtras(body: unknown, catalog: Catalog) {
  const { request, model, ...rest } = parseExtrasJobRequest(body, catalog.upscalers ?? []);
  if (model !== undefined && !catalog.models.includes(model))
    throw new ValidationError(`model "${model}" is not on this farm (an extras job needs none; it only routes the job)`, 'model');
  return { params: (await extrasJobs(request, catalog, model, () => ['image']))[0], ...rest };
}

export function jobRoutes(deps: JobRoutesDeps): Router {
  const r = Router();
  const allowedWebhookHosts = parseAllowedHosts(deps.config.WEBHOOK_ALLOWED_HOSTS);
  const workersNow = recentWorkers(deps.queue);
  const limits = {
    maxPixels: deps.config.MAX_PIXELS,
    maxSteps: deps.config.MAX_STEPS,
    maxImagesPerRequest: deps.config.MAX_IMAGES_PER_REQUEST,
    maxPromptChunks: deps.config.MAX_PROMPT_CHUNKS,
  };

  /**
   * Checks a submission and queues it (one round trip to Redis, which also spends the caller's rate-limit budgets);
   * the live-worker check runs beside it.
   */
  const submit = async (req: Request, res: Response, id?: string): Promise<{ envelope: JobEnvelope; warnings: string[] }> => {
    // kind "extras" (A1111's postprocessing upscale of one image) has its own body; everything else is a generation
    const parse = async (catalog: Catalog) => (isExtrasJobBody(req.body) ? await parseExtras(req.body, catalog) : parseJobRequest(req.body, limits, catalog));
    let parsed: Awaited<ReturnType<typeof parse>> | undefined;
    let refused: unknown;
    try {
      parsed = await parse(await deps.catalog());
    } catch (e) {
      refused = e;
    }
    if (!parsed) {
      // the rate limiter's refusal wins over a bad body, and an over-budget caller costs no fresh catalog read
      await spendDeferredNow(res);
      // the cached catalog may predate a model or LoRA that has just arrived: judge a refusal by a fresh one
      if (!(refused instanceof FarmError) || refused.status >= 500) throw refused;
      parsed = await parse(await deps.catalog({ fresh: true }));
    }
    // a caller this gateway knows is over budget costs no image decoding or address lookup
    const spend = deferredSpend(res);
    try {
      if (parsed.params.kind !== 'extras') await checkRequestImages(parsed.params, NATIVE_IMAGE_FIELDS);
      if (parsed.webhook && !deps.config.WEBHOOK_ALLOW_PRIVATE) {
        await assertPublicUrl(parsed.webhook.url, allowedWebhookHosts).catch((e: Error) => {
          throw new ValidationError(`webhook refused: ${e.message}`, 'webhook');
        });
      }
    } catch (e) {
      await spendDeferredNow(res);
      throw e;
    }
    const { params, webhook, priority, idempotencyKey } = parsed;
    // the job waits in the queue for a worker (one may be starting: autoscaling counts the queue); say so
    const [envelope, problem] = await Promise.all([
      deps.queue.submit(params, { owner: req.user!.id, webhook, priority, idempotencyKey, requestId: requestIdOf(res), id, spend }).catch((e: unknown) => {
        throw asRateLimited(e);
      }),
      workersNow().then(
        (workers) => liveWorkerProblem(workers, params.model),
        () => null,
      ),
    ]);
    deps.metrics.submitted();
    return { envelope, warnings: problem ? [`${problem}; the job waits until one starts`] : [] };
  };

  r.post(
    '/v1/jobs',
    asyncRoute(async (req, res) => {
      const { envelope, warnings } = await submit(req, res);
      res
        .status(202)
        .location(`/v1/jobs/${envelope.id}`)
        .json({ ...present(envelope), ...(warnings.length ? { warnings } : {}) });
    }),
  );

  // Submit and stream: the body of POST /v1/jobs, answered with the job's SSE stream (GET /v1/jobs/:id/events) at
  // once, so a client needs one request. The job's channel is subscribed before the job exists, so nothing is missed.
  r.post(
    '/v1/jobs/stream',
    asyncRoute(async (req, res) => {
      const id = randomUUID();
      const previews = Number((req.body as { live_preview_every?: unknown } | undefined)?.live_preview_every) > 0;
      const stream = await subscribeJob(deps, req, res, id, { previews });
      let submitted: { envelope: JobEnvelope; warnings: string[] };
      try {
        submitted = await submit(req, res, id);
      } catch (e) {
        await stream.abandon();
        throw e;
      }
      if (submitted.envelope.id === id) {
        res.setHeader('location', `/v1/jobs/${id}`);
        stream.open(submitted.envelope);
        return;
      }
      // an idempotency key named an earlier job: stream that one
      await stream.abandon();
      const again = await subscribeJob(deps, req, res, submitted.envelope.id, { previews });
      res.setHeader('location', `/v1/jobs/${submitted.envelope.id}`);
      again.open(await deps.queue.get(submitted.envelope.id));
    }),
  );

  r.get(
    '/v1/jobs',
    asyncRoute(async (req, res) => {
      const { limit, offset } = parseListQuery(req.query as Record<string, unknown>);
      const { jobs, total } = await deps.queue.list(req.user!.id, { limit, offset });
      res.json({ jobs: jobs.map((e) => present(e)), total, limit, offset });
    }),
  );

  r.get(
    '/v1/jobs/:id',
    asyncRoute(async (req, res) => {
      const e = await ownJob(deps.queue, req, String(req.params.id));
      res.json(present(e));
    }),
  );

  r.delete(
    '/v1/jobs/:id',
    asyncRoute(async (req, res) => {
      await ownJob(deps.queue, req, String(req.params.id));
      const e = (await deps.queue.cancel(String(req.params.id)))!;
      res.status(isTerminal(e.status) ? 200 : 202).json(present(e));
    }),
  );

  return r;
}
