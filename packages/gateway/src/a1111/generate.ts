// POST /sdapi/v1/txt2img and /img2img: resolve the body with A1111's semantics, queue a job for the caller, wait for
// it, and answer {images, parameters, info} as A1111 does. An interrupted call answers with what exists.
import { Router } from 'express';
import { randomInt } from 'node:crypto';
import { A1111ValidationError, A1111HttpError, parseA1111, type A1111Kind } from '@farm/core';
import { requestIdOf } from '../access-log';
import { asyncRoute } from '../http-errors';
import { A1111_IMAGE_FIELDS, checkRequestImages } from '../images/check-request-images';
import { waitForJob } from './wait';
import { assertLiveWorkerFor } from '../guards/live-worker';
import { A1111_OPTION_DEFAULTS } from './options-defaults';
import { loadStyles } from './styles';
import { applyInfotext } from './apply-infotext';
import { listVaes } from './lists';
import { join } from 'node:path';
import { modelSha256, shortHash } from '@farm/engine/model-hash';
import { sdModels, resolveCheckpoint } from './models';
import { a1111Info, jobTimestamp } from './info';
import { encodeImage, imageGrid, wantsGrid, type OutputOptions } from './output-images';
import type { A1111Deps } from './index';

export function generateRoutes(deps: A1111Deps): Router {
  const r = Router();
  const limits = {
    maxPixels: deps.config.MAX_PIXELS,
    maxSteps: deps.config.MAX_STEPS,
    maxImagesPerRequest: deps.config.MAX_IMAGES_PER_REQUEST,
    maxPromptChunks: deps.config.MAX_PROMPT_CHUNKS,
  };

  const generate = (kind: A1111Kind) =>
    asyncRoute(async (req, res) => {
      const user = req.user!.id;
      const [catalog, stored] = await Promise.all([deps.catalog(), deps.queue.a1111.options(user)]);
      const models = await sdModels(catalog, deps.config.MODELS_DIR);
      const body = (req.body ?? {}) as Record<string, unknown>;
      // checkpoint aliases (title, hash) resolve to the model's name before parsing
      const alias = (o: unknown) => (typeof o === 'string' && o !== '' ? (resolveCheckpoint(o, models) ?? o) : o);
      const override =
        body.override_settings && typeof body.override_settings === 'object' && !Array.isArray(body.override_settings)
          ? { ...(body.override_settings as Record<string, unknown>) }
          : body.override_settings;
      if (override && typeof override === 'object' && 'sd_model_checkpoint' in override)
        (override as Record<string, unknown>).sd_model_checkpoint = alias((override as Record<string, unknown>).sd_model_checkpoint);
      const options = { ...stored, ...(stored.sd_model_checkpoint !== undefined ? { sd_model_checkpoint: alias(stored.sd_model_checkpoint) } : {}) };
      const withInfotext = applyInfotext(kind, { ...body, ...(override !== undefined ? { override_settings: override } : {}) }, options);
      const parsed = parseA1111(kind, withInfotext, {
        limits,
        catalog,
        options,
        styles: loadStyles(deps.config.STYLES_FILE),
        vaes: listVaes(deps.config.VAE_DIR).map((v) => v.model_name),
      });
      const format = String({ ...A1111_OPTION_DEFAULTS, ...stored, ...(parsed.request.override_settings ?? {}) }.samples_format).toLowerCase();
      if (!['png', 'jpg', 'jpeg', 'webp'].includes(format)) {
        const loc =
          parsed.request.override_settings && 'samples_format' in parsed.request.override_settings
            ? ['override_settings', 'samples_format']
            : ['options', 'samples_format'];
        throw new A1111ValidationError([{ loc: ['body', ...loc], msg: `samples_format "${format}" is not one of png, jpg, webp`, type: 'value_error' }]);
      }
      await checkRequestImages(parsed.params, A1111_IMAGE_FIELDS).catch((e: Error & { field?: string }) => {
        const loc = (e.field ?? 'init_images[0]')
          .split(/[.[\]]+/)
          .filter(Boolean)
          .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
        throw new A1111ValidationError([{ loc: ['body', ...loc], msg: e.message, type: 'value_error' }]);
      });
      await assertLiveWorkerFor(deps.queue, parsed.params.model);
      const submitted = await deps.queue.submit(parsed.params, { owner: user, requestId: requestIdOf(res) });
      deps.metrics.submitted();
      await deps.queue.a1111.addCall(user, submitted.id);
      const abort = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      let job;
      try {
        job = await waitForJob(deps.queue, submitted.id, abort.signal);
      } finally {
        await deps.queue.a1111.removeCall(user, submitted.id).catch(() => {});
      }
      if (job.status === 'failed') throw new A1111HttpError(500, job.error ?? 'generation failed');

      const opts = { ...A1111_OPTION_DEFAULTS, ...stored, ...(parsed.request.override_settings ?? {}) } as Record<string, unknown>;
      const out: OutputOptions = {
        samples_format: String(opts.samples_format),
        jpeg_quality: Number(opts.jpeg_quality),
        enable_pnginfo: opts.enable_pnginfo !== false,
        return_grid: opts.return_grid !== false,
        grid_only_if_multiple: opts.grid_only_if_multiple !== false,
        n_rows: Number(opts.n_rows),
        grid_prevent_empty_spots: opts.grid_prevent_empty_spots === true,
      };
      const pngs = (await Promise.all((job.output?.images ?? []).map((k) => deps.storage.get(k)))).filter((b): b is Buffer => b !== null);
      let infotexts = [...(job.output?.infotexts ?? [])].slice(0, pngs.length || undefined);
      const seeds = job.output?.seeds ?? [];
      let images = pngs;
      let indexOfFirstImage = 0;
      if (pngs.length > 0 && wantsGrid(pngs.length, parsed.request.save_images === true, out)) {
        images = [await imageGrid(pngs, parsed.params.batch_size, out), ...pngs];
        infotexts = [infotexts[0], ...infotexts];
        indexOfFirstImage = 1;
      }
      const send = parsed.request.send_images !== false;
      const encoded = send
        ? await Promise.all(images.map(async (png, i) => (await encodeImage(png, out.enable_pnginfo ? (infotexts[i] ?? null) : null, out)).toString('base64')))
        : [];
      // A1111 draws a random subseed for -1 even when it is not used (subseed_strength 0)
      const requestSubseed = parsed.params.subseed !== undefined && parsed.params.subseed >= 0 ? parsed.params.subseed : Number(parsed.request.subseed ?? -1);
      const info = a1111Info({
        parsed,
        seeds,
        infotexts,
        subseed: requestSubseed === -1 ? randomInt(0, 4294967294) : requestSubseed,
        modelHash: models.find((m) => m.model_name === parsed.params.model)?.hash ?? null,
        vaeHash: parsed.params.vae ? shortHash(await modelSha256(join(deps.config.VAE_DIR, parsed.params.vae, 'vae_decoder/model.onnx'))) : null,
        jobTimestamp: jobTimestamp(new Date(job.started_at ?? job.created_at)),
        indexOfFirstImage,
        clipSkip: parsed.params.clip_skip ?? 1,
        faceRestorationModel: null,
      });
      const parameters = { ...parsed.request };
      if (kind === 'img2img' && parameters.include_init_images !== true) {
        parameters.init_images = null;
        parameters.mask = null;
      }
      res.json({ images: encoded, parameters, info: JSON.stringify({ ...info, ...(job.status === 'canceled' ? { interrupted: true } : {}) }) });
    });

  r.post('/sdapi/v1/txt2img', generate('txt2img'));
  r.post('/sdapi/v1/img2img', generate('img2img'));
  return r;
}
