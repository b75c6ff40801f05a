// The sd-webui-controlnet extension's routes (API version 2): version, settings, model and module lists with
// module_detail, control types, and detect (the preprocessed map).
import { Router } from 'express';
import { A1111ValidationError } from '@farm/core';
import { DETECT_LIMITS, DetectPool } from '../images/detect-pool';
import { asyncRoute } from '../http-errors';
import type { A1111Deps } from './index';

const MODULE_DETAIL = {
  none: { model_free: false, sliders: [] },
  canny: {
    model_free: false,
    sliders: [
      { name: 'Preprocessor Resolution', value: 512, min: 64, max: 2048, step: 8 },
      { name: 'Canny Low Threshold', value: 100, min: 1, max: 255, step: 1 },
      { name: 'Canny High Threshold', value: 200, min: 1, max: 255, step: 1 },
    ],
  },
};

export function controlNetRoutes(deps: A1111Deps): Router {
  const r = Router();
  const detectPool = deps.detectPool ?? new DetectPool();
  const modelList = async () => {
    const c = await deps.catalog();
    return c.models.length ? ['default'] : [];
  };
  r.get('/controlnet/version', (_req, res) => {
    res.json({ version: 2 });
  });
  r.get('/controlnet/settings', (_req, res) => {
    res.json({ control_net_unit_count: 4 });
  });
  r.get(
    '/controlnet/model_list',
    asyncRoute(async (_req, res) => {
      res.json({ model_list: await modelList() });
    }),
  );
  r.get('/controlnet/module_list', (_req, res) => {
    res.json({ module_list: Object.keys(MODULE_DETAIL), module_detail: MODULE_DETAIL });
  });
  r.get(
    '/controlnet/control_types',
    asyncRoute(async (_req, res) => {
      const models = await modelList();
      res.json({
        control_types: {
          All: { module_list: Object.keys(MODULE_DETAIL), model_list: ['None', ...models], default_option: 'none', default_model: 'None' },
          Canny: { module_list: ['none', 'canny'], model_list: ['None', ...models], default_option: 'canny', default_model: models[0] ?? 'None' },
        },
      });
    }),
  );
  r.post(
    '/controlnet/detect',
    asyncRoute(async (req, res) => {
      const b = req.body ?? {};
      const module = b.controlnet_module ?? 'none';
      if (module !== 'canny' && module !== 'none')
        throw new A1111ValidationError([
          { loc: ['body', 'controlnet_module'], msg: `unknown ControlNet module "${module}"; available: canny, none`, type: 'value_error' },
        ]);
      const inputs: unknown = b.controlnet_input_images;
      if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((i) => typeof i !== 'string')) {
        throw new A1111ValidationError([{ loc: ['body', 'controlnet_input_images'], msg: 'a list of base64 images is required', type: 'value_error.missing' }]);
      }
      if (inputs.length > DETECT_LIMITS.maxImages)
        throw new A1111ValidationError([
          { loc: ['body', 'controlnet_input_images'], msg: `at most ${DETECT_LIMITS.maxImages} images per call, got ${inputs.length}`, type: 'value_error' },
        ]);
      const res0 = Number(b.controlnet_processor_res ?? 512);
      const size = Math.min(DETECT_LIMITS.maxResolution, Math.max(64, Math.round((res0 > 0 ? res0 : 512) / 8) * 8));
      const threshold = (v: unknown, def: number) => (typeof v === 'number' && v >= 0 ? v : def);
      // decode, canny and PNG run on the preprocessing thread, one image at a time: the event loop stays free
      const images = await detectPool.run(inputs as string[], {
        module,
        size,
        threshold_a: threshold(b.controlnet_threshold_a, 100),
        threshold_b: threshold(b.controlnet_threshold_b, 200),
      });
      res.json({ images, info: 'Success' });
    }),
  );
  return r;
}
