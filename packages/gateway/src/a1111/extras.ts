// POST /sdapi/v1/extra-single-image and /extra-batch-images: A1111's postprocessing upscale. Each image becomes one
// `extras` job (the gateway never runs an upscaler: workers do, Lanczos included, so every image is a job in the
// caller's history with progress); the call waits for them and answers {html_info, image} / {html_info, images}.
import { Router } from 'express';
import sharp from 'sharp';
import {
  A1111HttpError,
  A1111ValidationError,
  FarmError,
  checkExtrasSize,
  extrasJobParams,
  parseA1111Extras,
  plaintextToHtml,
  type Catalog,
  type ExtrasRequest,
  type GenerationParams,
} from '@farm/core';
import { checkImage } from '@farm/engine/images';
import { readPngText } from '@farm/engine/png';
import { asyncRoute } from '../http-errors';
import { assertLiveWorkerFor } from '../guards/live-worker';
import { waitForJob } from './wait';
import { A1111_OPTION_DEFAULTS } from './options-defaults';
import { encodeImage, type OutputOptions } from './output-images';
import type { A1111Deps } from './index';

/**
 * One job's params per image: each decoded at the header to size its upscale (too large or empty: 422 naming the
 * field), then checked whole. `model` only routes the job: any worker with a model and the upscalers runs it.
 */
export async function extrasJobs(
  request: ExtrasRequest,
  catalog: Catalog,
  model: string | undefined,
  fieldOf: (i: number) => string[],
): Promise<GenerationParams[]> {
  const routeTo = model ?? catalog.defaultModel ?? catalog.models[0] ?? '(none)';
  const out: GenerationParams[] = [];
  for (const [i, image] of request.images.entries()) {
    const field = fieldOf(i).join('.');
    await checkImage(image.data, field);
    const meta = await sharp(Buffer.from(image.data, 'base64'), { limitInputPixels: false }).metadata();
    const size = checkExtrasSize(meta.width!, meta.height!, request.extras);
    out.push(extrasJobParams(image, request.extras, routeTo, size));
  }
  return out;
}

export function extrasRoutes(deps: A1111Deps): Router {
  const r = Router();

  const run = (mode: 'single' | 'batch') =>
    asyncRoute(async (req, res) => {
      const user = req.user!.id;
      const [catalog, stored] = await Promise.all([deps.catalog(), deps.queue.a1111.options(user)]);
      const request = parseA1111Extras(mode, req.body, catalog.upscalers ?? []);
      const fieldOf = (i: number) => (mode === 'single' ? ['image'] : ['imageList', String(i), 'data']);
      let jobs: GenerationParams[];
      try {
        jobs = await extrasJobs(request, catalog, undefined, fieldOf);
      } catch (e) {
        if (e instanceof FarmError && e.status === 422) {
          const field = (e as FarmError & { field?: string }).field ?? 'body';
          throw new A1111ValidationError([
            { loc: ['body', ...field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p))], msg: e.message, type: 'value_error' },
          ]);
        }
        throw e;
      }
      if (jobs.length > 0) await assertLiveWorkerFor(deps.queue, jobs[0].model);
      const abort = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      const ids: string[] = [];
      let done;
      try {
        for (const params of jobs) {
          const submitted = await deps.queue.submit(params, { owner: user });
          deps.metrics.submitted();
          ids.push(submitted.id);
          await deps.queue.a1111.addCall(user, submitted.id);
        }
        done = await Promise.all(ids.map((id) => waitForJob(deps.queue, id, abort.signal)));
      } finally {
        await Promise.all(ids.map((id) => deps.queue.a1111.removeCall(user, id).catch(() => {})));
      }
      const failed = done.find((j) => j.status === 'failed');
      if (failed) throw new A1111HttpError(500, failed.error ?? 'extras failed');

      const opts = { ...A1111_OPTION_DEFAULTS, ...stored } as Record<string, unknown>;
      const out = {
        samples_format: String(opts.samples_format),
        jpeg_quality: Number(opts.jpeg_quality),
        enable_pnginfo: opts.enable_pnginfo !== false,
      } as OutputOptions;
      const images: string[] = [];
      let infotext = '';
      for (const job of done) {
        const key = job.output?.images[0];
        const png = key ? await deps.storage.get(key) : null;
        if (!png) continue;
        infotext = job.output?.infotexts[0] ?? '';
        // A1111 sends the image with the input's own text chunks; its `parameters` is what JPEG/WebP carry as EXIF
        images.push((await encodeImage(png, out.enable_pnginfo ? (readPngText(png).parameters ?? null) : null, out)).toString('base64'));
      }
      const html_info = plaintextToHtml(infotext);
      if (mode === 'single') res.json({ html_info, image: images[0] ?? null });
      else res.json({ html_info, images });
    });

  r.post('/sdapi/v1/extra-single-image', run('single'));
  r.post('/sdapi/v1/extra-batch-images', run('batch'));
  return r;
}
