// AUTOMATIC1111-compatible routes (/sdapi/v1/...), on top of the queue: each generation call enqueues a job for the
// caller and waits for it; the gateway never runs a model.
import { Router, type Request, type Response, type NextFunction } from 'express';
import { FarmError, A1111ValidationError, A1111_DEFAULT_RANDN_SOURCE, a1111Info, checkpointName, parseA1111, readA1111Settings, type A1111Settings, type Catalog, type FarmConfig } from '@farm/core';
import type { FarmQueue } from '@farm/queue';
import type { Storage } from '@farm/storage';
import { listSamplers, listSchedulers } from '@farm/engine/schedulers';
import { readPngText, parseInfotext } from '@farm/engine/png';
import { controlMap, controlMapPng } from '@farm/engine/controlnet';
import { asyncRoute } from '../http-errors';
import type { Metrics } from '../metrics';
import { waitForJob } from './wait';
import { A1111_IMAGE_FIELDS, checkRequestImages } from '../images/check-request-images';

export interface A1111Deps {
  config: FarmConfig;
  queue: FarmQueue;
  storage: Storage;
  catalog(): Promise<Catalog>;
  metrics: Metrics;
}

const stripData = (s: string) => (s.startsWith('data:') && s.includes(',') ? s.slice(s.indexOf(',') + 1) : s);

export function a1111Router(deps: A1111Deps): Router {
  const r = Router();
  const limits = { maxPixels: deps.config.MAX_PIXELS, maxSteps: deps.config.MAX_STEPS, maxImagesPerRequest: deps.config.MAX_IMAGES_PER_REQUEST };
  const optionsKey = (req: Request) => `${deps.queue.prefix}:options:${req.user!.id}`;
  const currentKey = (req: Request) => `${deps.queue.prefix}:a1111-current:${req.user!.id}`;
  const userModel = async (req: Request) => (await deps.queue.redis.hget(optionsKey(req), 'sd_model_checkpoint')) ?? undefined;
  /** the generation settings this user saved with POST /sdapi/v1/options (randn_source, eta_noise_seed_delta) */
  const userSettings = async (req: Request): Promise<A1111Settings> => JSON.parse((await deps.queue.redis.hget(optionsKey(req), 'settings')) ?? '{}');

  const generate = (kind: 'txt2img' | 'img2img') => asyncRoute(async (req, res) => {
    const catalog = await deps.catalog();
    const { params, request, ignored } = parseA1111(kind, req.body, limits, catalog, await userModel(req), await userSettings(req));
    await checkRequestImages(params, A1111_IMAGE_FIELDS).catch((e: Error & { field?: string }) => {
      throw new A1111ValidationError([{ loc: ['body', ...(e.field ?? 'init_images').split('.')], msg: e.message, type: 'value_error' }]);
    });
    const submitted = await deps.queue.submit(params, { owner: req.user!.id });
    deps.metrics.submitted();
    await deps.queue.redis.rpush(currentKey(req), submitted.id);
    const abort = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abort.abort(); });
    let job;
    try {
      job = await waitForJob(deps.queue, submitted.id, abort.signal);
    } finally {
      await deps.queue.redis.lrem(currentKey(req), 0, submitted.id);
    }
    deps.metrics.observe(job);
    if (job.status === 'failed') return res.status(500).json({ error: 'GenerationError', detail: job.error, errors: job.error });
    const images = request.send_images && job.output
      ? await Promise.all(job.output.images.map(async (k) => (await deps.storage.get(k))?.toString('base64') ?? ''))
      : [];
    const { init_image: _init, ...echo } = params;
    res.json({
      images,
      parameters: { ...request, ...echo, sampler_name: params.sampler, seed: params.seed, init_images: kind === 'img2img' ? request.init_images : undefined },
      info: JSON.stringify({ ...a1111Info(params, request, job.output?.seeds ?? [], job.output?.infotexts ?? [], ignored), ...(job.status === 'canceled' ? { interrupted: true } : {}) }),
    });
  });

  r.post('/sdapi/v1/txt2img', generate('txt2img'));
  r.post('/sdapi/v1/img2img', generate('img2img'));

  r.get('/sdapi/v1/progress', asyncRoute(async (req, res) => {
    const ids = await deps.queue.redis.lrange(currentKey(req), 0, -1);
    const jobs = (await Promise.all(ids.map((id) => deps.queue.get(id)))).filter((j) => j !== null);
    const running = jobs.find((j) => j.status === 'running') ?? jobs[0];
    const step = running?.progress?.step ?? 0;
    const steps = running?.progress?.steps ?? running?.input.steps ?? 0;
    res.json({
      progress: running && steps ? step / steps : 0,
      eta_relative: running?.progress?.eta_seconds ?? 0,
      state: {
        skipped: false, interrupted: running?.cancel_requested ?? false, job: running ? `task(${running.id})` : '', job_count: jobs.length,
        job_timestamp: running ? running.created_at.replace(/[-:T]/g, '').slice(0, 14) : '0', job_no: 0, sampling_step: step, sampling_steps: steps,
      },
      current_image: null,
      textinfo: running ? `${running.status}: step ${step} of ${steps}` : null,
      current_task: running ? `task(${running.id})` : null,
    });
  }));

  const interrupt = asyncRoute(async (req, res) => {
    const ids = await deps.queue.redis.lrange(currentKey(req), 0, -1);
    await Promise.all(ids.map((id) => deps.queue.cancel(id)));
    res.json({});
  });
  r.post('/sdapi/v1/interrupt', interrupt);
  r.post('/sdapi/v1/skip', interrupt);

  r.get('/sdapi/v1/sd-models', asyncRoute(async (_req, res) => {
    res.json((await deps.catalog()).models.map((m) => ({ title: m, model_name: m, hash: null, sha256: null, filename: `${deps.config.MODELS_DIR}/${m}`, config: null })));
  }));
  r.post('/sdapi/v1/refresh-checkpoints', (_req, res) => { res.json({}); });
  r.post('/sdapi/v1/refresh-loras', (_req, res) => { res.json({}); });
  r.get('/sdapi/v1/samplers', (_req, res) => { res.json(listSamplers()); });
  r.get('/sdapi/v1/schedulers', (_req, res) => {
    res.json(listSchedulers().map((s) => ({ name: s.name, label: s.label, aliases: null, default_rho: s.name === 'karras' ? 7 : -1, need_inner_model: false })));
  });
  r.get('/sdapi/v1/loras', asyncRoute(async (_req, res) => {
    res.json((await deps.catalog()).loras.map((name) => ({ name, alias: name, path: `${deps.config.LORA_DIR}/${name}.safetensors`, metadata: {} })));
  }));

  r.get('/sdapi/v1/options', asyncRoute(async (req, res) => {
    const catalog = await deps.catalog();
    const model = (await userModel(req)) ?? catalog.defaultModel ?? catalog.models[0] ?? null;
    const settings = await userSettings(req);
    res.json({
      sd_model_checkpoint: model, sd_checkpoint_hash: null, samples_format: 'png', CLIP_stop_at_last_layers: 1,
      randn_source: settings.randn_source ?? A1111_DEFAULT_RANDN_SOURCE, eta_noise_seed_delta: settings.eta_noise_seed_delta ?? 0,
    });
  }));
  r.post('/sdapi/v1/options', asyncRoute(async (req, res) => {
    const body = req.body && typeof req.body === 'object' ? req.body as Record<string, unknown> : {};
    const settings = readA1111Settings(body, ['body']);
    const wanted = body.sd_model_checkpoint;
    if (wanted !== undefined) {
      const catalog = await deps.catalog();
      const name = typeof wanted === 'string' ? checkpointName(wanted) : '';
      if (!catalog.models.includes(name)) {
        throw new A1111ValidationError([{ loc: ['body', 'sd_model_checkpoint'], msg: `unknown model "${wanted}"; available: ${catalog.models.join(', ')}`, type: 'value_error' }]);
      }
      await deps.queue.redis.hset(optionsKey(req), 'sd_model_checkpoint', name);
    }
    if (Object.keys(settings).length > 0) await deps.queue.redis.hset(optionsKey(req), 'settings', JSON.stringify({ ...(await userSettings(req)), ...settings }));
    res.json(null);
  }));

  r.post('/sdapi/v1/png-info', asyncRoute(async (req, res) => {
    const image = (req.body ?? {}).image;
    if (typeof image !== 'string' || image.length === 0) throw new A1111ValidationError([{ loc: ['body', 'image'], msg: 'field required', type: 'value_error.missing' }]);
    let items: Record<string, string> = {};
    try {
      items = readPngText(Buffer.from(stripData(image), 'base64'));
    } catch {
      throw new A1111ValidationError([{ loc: ['body', 'image'], msg: 'not a PNG image', type: 'value_error' }]);
    }
    const info = items.parameters ?? '';
    res.json({ info, items, parameters: info ? parseInfotext(info) : {} });
  }));

  r.get('/sdapi/v1/cmd-flags', (_req, res) => {
    res.json({ api: true, nowebui: false, listen: deps.config.HOST === '0.0.0.0', port: deps.config.PORT, ckpt_dir: deps.config.MODELS_DIR, lora_dir: deps.config.LORA_DIR, no_half: true, medvram: false, lowvram: false });
  });

  r.get('/controlnet/model_list', asyncRoute(async (_req, res) => { res.json({ model_list: ['default'] }); }));
  r.get('/controlnet/module_list', (_req, res) => { res.json({ module_list: ['none', 'canny'], modules: ['none', 'canny'] }); });
  r.post('/controlnet/detect', asyncRoute(async (req, res) => {
    const b = req.body ?? {};
    const module = b.controlnet_module ?? 'canny';
    if (module !== 'canny' && module !== 'none') throw new A1111ValidationError([{ loc: ['body', 'controlnet_module'], msg: `unknown ControlNet module "${module}"; available: canny, none`, type: 'value_error' }]);
    const inputs: unknown = b.controlnet_input_images;
    if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((i) => typeof i !== 'string')) {
      throw new A1111ValidationError([{ loc: ['body', 'controlnet_input_images'], msg: 'a list of base64 images is required', type: 'value_error.missing' }]);
    }
    const size = Math.min(2048, Math.max(64, Math.round(Number(b.controlnet_processor_res ?? 512) / 8) * 8));
    const images = await Promise.all((inputs as string[]).map(async (image) => {
      const map = await controlMap({ image, module, threshold_a: Number(b.controlnet_threshold_a ?? 100), threshold_b: Number(b.controlnet_threshold_b ?? 200) }, size, size, 4096 * 4096);
      return (await controlMapPng(map, size, size)).toString('base64');
    }));
    res.json({ images, info: 'Success' });
  }));

  // FastAPI-shaped errors for everything under /sdapi
  r.use('/sdapi', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof A1111ValidationError) return res.status(422).json({ detail: err.detail });
    if (err instanceof FarmError && err.status === 422) return res.status(422).json({ detail: [{ loc: ['body', (err as { field?: string }).field ?? 'body'], msg: err.message, type: 'value_error' }] });
    if (err instanceof FarmError) return res.status(err.status).json({ detail: err.message, error: err.code });
    if ((err as { type?: string }).type === 'entity.parse.failed') return res.status(422).json({ detail: [{ loc: ['body'], msg: 'the body is not valid JSON', type: 'value_error.jsondecode' }] });
    next(err);
  });
  return r;
}
