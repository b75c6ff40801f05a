// The A1111 list endpoints with A1111's shapes and the farm's real content: what is installed and usable here.
// Empty lists mean the farm has none of that kind (no face restorer, no hypernetwork, ...), never a made-up entry.
import { Router } from 'express';
import { existsSync, readdirSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { A1111HttpError, LATENT_UPSCALE_MODES, a1111SamplerItems } from '@farm/core';
import { listSchedulers } from '@farm/engine/schedulers';
import { embeddingItem, scanEmbeddings } from '@farm/engine/embeddings';
import { asyncRoute } from '../http-errors';
import { loadStyles } from './styles';
import { sdModels } from './models';
import type { A1111Deps } from './index';

/** Upscalers every A1111 has (PIL resizes); these are sharp resizes here. Upscaler models in UPSCALERS_DIR follow them. */
export const BUILTIN_UPSCALERS = [
  { name: 'None', model_name: null, model_path: null, model_url: null, scale: 4 },
  { name: 'Lanczos', model_name: null, model_path: null, model_url: null, scale: 4 },
  { name: 'Nearest', model_name: null, model_path: null, model_url: null, scale: 4 },
];

/** VAE folders (ONNX, vae_decoder/model.onnx) in VAE_DIR as A1111's sd-vae entries. */
export function listVaes(dir: string): { model_name: string; filename: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .filter((n) => existsSync(join(dir, n, 'vae_decoder/model.onnx')))
    .map((n) => ({ model_name: n, filename: resolve(dir, n) }));
}

export function listRoutes(deps: A1111Deps): Router {
  const r = Router();
  const c = deps.config;
  r.get('/sdapi/v1/samplers', (_req, res) => {
    res.json(a1111SamplerItems());
  });
  r.get('/sdapi/v1/schedulers', (_req, res) => {
    res.json(listSchedulers());
  });
  r.get(
    '/sdapi/v1/sd-models',
    asyncRoute(async (_req, res) => {
      res.json(await sdModels(await deps.catalog(), c.MODELS_DIR));
    }),
  );
  r.get(
    '/sdapi/v1/loras',
    asyncRoute(async (_req, res) => {
      res.json((await deps.catalog()).loras.map((name) => ({ name, alias: name, path: resolve(c.LORA_DIR, `${name}.safetensors`), metadata: {} })));
    }),
  );
  r.get(
    '/sdapi/v1/upscalers',
    asyncRoute(async (_req, res) => {
      const models = (await deps.catalog()).upscalers ?? [];
      // scale: A1111 reports the model's native scale; generated and Real-ESRGAN exports name it ("4x-...", "...x4")
      const scaleOf = (name: string) => Number(/(?:^|[^\d])(\d)x|x(\d)(?:[^\d]|$)/i.exec(name)?.slice(1).find(Boolean) ?? 4);
      res.json([
        ...BUILTIN_UPSCALERS,
        ...models.map((name) => ({ name, model_name: name, model_path: resolve(c.UPSCALERS_DIR, `${name}.onnx`), model_url: null, scale: scaleOf(name) })),
      ]);
    }),
  );
  r.get('/sdapi/v1/latent-upscale-modes', (_req, res) => {
    res.json(Object.keys(LATENT_UPSCALE_MODES).map((name) => ({ name })));
  });
  r.get('/sdapi/v1/sd-vae', (_req, res) => {
    res.json(listVaes(c.VAE_DIR));
  });
  r.get('/sdapi/v1/hypernetworks', (_req, res) => {
    res.json([]);
  });
  r.get('/sdapi/v1/face-restorers', (_req, res) => {
    res.json([]);
  });
  r.get('/sdapi/v1/realesrgan-models', (_req, res) => {
    res.json([]);
  });
  r.get('/sdapi/v1/prompt-styles', (_req, res) => {
    res.json(loadStyles(c.STYLES_FILE).map((s) => ({ name: s.name, prompt: s.prompt, negative_prompt: s.negative_prompt })));
  });
  r.get('/sdapi/v1/embeddings', (_req, res) => {
    const { loaded, skipped } = scanEmbeddings(c.EMBEDDINGS_DIR);
    res.json({
      loaded: Object.fromEntries(loaded.map((e) => [e.name, embeddingItem(e)])),
      skipped: Object.fromEntries(skipped.map((e) => [e.name, embeddingItem(e)])),
    });
  });
  r.get('/sdapi/v1/memory', (_req, res) => {
    const rss = process.memoryUsage().rss;
    const total = totalmem();
    res.json({
      ram: { free: freemem(), used: rss, total },
      cuda: { error: 'unavailable: the gateway runs no model; workers report their own memory in /metrics' },
    });
  });
  // selectable scripts (A1111 lists titles in lower case): SD upscale, an img2img script; then the always-on ones
  r.get('/sdapi/v1/scripts', (_req, res) => {
    res.json({ txt2img: ['controlnet'], img2img: ['sd upscale', 'controlnet'] });
  });
  r.get(
    '/sdapi/v1/script-info',
    asyncRoute(async (_req, res) => {
      const upscalers = [...BUILTIN_UPSCALERS.map((u) => u.name), ...((await deps.catalog()).upscalers ?? [])];
      const arg = (label: string | null, value: unknown, extra: Record<string, unknown> = {}) => ({
        label,
        value,
        minimum: null,
        maximum: null,
        step: null,
        choices: null,
        ...extra,
      });
      res.json([
        {
          name: 'sd upscale',
          is_alwayson: false,
          is_img2img: true,
          args: [
            arg(null, null),
            arg('Tile overlap', 64, { minimum: 0, maximum: 256, step: 16 }),
            arg('Upscaler', 0, { choices: upscalers }),
            arg('Scale Factor', 2, { minimum: 1, maximum: 4, step: 0.05 }),
          ],
        },
        ...[false, true].map((img2img) => ({ name: 'controlnet', is_alwayson: true, is_img2img: img2img, args: [] })),
      ]);
    }),
  );
  r.get('/sdapi/v1/extensions', (_req, res) => {
    res.json([
      {
        name: 'sd-webui-controlnet',
        remote: 'https://github.com/Mikubill/sd-webui-controlnet',
        branch: 'main',
        commit_hash: '',
        version: 'built in',
        commit_date: '',
        enabled: true,
      },
    ]);
  });
  r.get('/sdapi/v1/cmd-flags', (_req, res) => {
    res.json({
      api: true,
      nowebui: false,
      listen: c.HOST === '0.0.0.0',
      port: c.PORT,
      ckpt_dir: c.MODELS_DIR,
      lora_dir: c.LORA_DIR,
      vae_dir: c.VAE_DIR,
      embeddings_dir: c.EMBEDDINGS_DIR,
      styles_file: [c.STYLES_FILE],
      no_half: true,
      medvram: false,
      lowvram: false,
      api_auth: null,
      api_server_stop: false,
    });
  });
  for (const path of ['refresh-checkpoints', 'refresh-loras', 'refresh-vae', 'refresh-embeddings'])
    r.post(`/sdapi/v1/${path}`, (_req, res) => {
      res.json(null);
    });
  r.post(
    '/sdapi/v1/unload-checkpoint',
    asyncRoute(async (_req, res) => {
      await deps.queue.commandWorkers('unload');
      res.json({});
    }),
  );
  r.post(
    '/sdapi/v1/reload-checkpoint',
    asyncRoute(async (_req, res) => {
      await deps.queue.commandWorkers('reload');
      res.json({});
    }),
  );
  r.post('/sdapi/v1/interrogate', (req, res, next) => {
    const model = (req.body ?? {}).model ?? 'clip';
    if (model !== 'clip' && model !== 'deepdanbooru') return next(new A1111HttpError(404, 'Model not found'));
    next(new A1111HttpError(501, `no interrogator model is installed on this farm (${model} is not available); no caption can be made`));
  });
  for (const path of ['create/embedding', 'create/hypernetwork', 'train/embedding', 'train/hypernetwork']) {
    r.post(`/sdapi/v1/${path}`, (_req, _res, next) => {
      next(new A1111HttpError(501, 'training is not available on this farm'));
    });
  }
  // A1111 only has these with --api-server-stop; a farm's gateways are not stopped through the API
  for (const path of ['server-kill', 'server-restart', 'server-stop'])
    r.all(`/sdapi/v1/${path}`, (_req, res) => {
      res.status(404).json({ detail: 'Not Found' });
    });
  return r;
}
