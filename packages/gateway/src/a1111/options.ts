// GET/POST /sdapi/v1/options: A1111's whole option set with its defaults, overlaid with what the caller stored
// (per user, in Redis, so every gateway agrees). Every key is stored; those that change the image and that the farm
// cannot apply yet are named in the answer and refused at generation time.
import { Router } from 'express';
import { A1111ValidationError, A1111_IMAGE_OPTIONS, readA1111Settings } from '@farm/core';
import { asyncRoute } from '../http-errors';
import { A1111_OPTION_DEFAULTS } from './options-defaults';
import { resolveCheckpoint, sdModels } from './models';
import type { A1111Deps } from './index';

export function optionRoutes(deps: A1111Deps): Router {
  const r = Router();
  r.get(
    '/sdapi/v1/options',
    asyncRoute(async (req, res) => {
      const [catalog, stored] = await Promise.all([deps.catalog(), deps.queue.a1111.options(req.user!.id)]);
      const models = await sdModels(catalog, deps.config.MODELS_DIR);
      const name =
        (typeof stored.sd_model_checkpoint === 'string' ? resolveCheckpoint(stored.sd_model_checkpoint, models) : null) ??
        catalog.defaultModel ??
        catalog.models[0] ??
        null;
      const model = models.find((m) => m.model_name === name);
      res.json({ ...A1111_OPTION_DEFAULTS, ...stored, sd_model_checkpoint: model?.title ?? name, sd_checkpoint_hash: model?.sha256 ?? '' });
    }),
  );
  r.post(
    '/sdapi/v1/options',
    asyncRoute(async (req, res) => {
      const body = req.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new A1111ValidationError([{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }]);
      const values = { ...(body as Record<string, unknown>) };
      readA1111Settings(values, ['body']);
      if (values.sd_model_checkpoint !== undefined && values.sd_model_checkpoint !== null) {
        const catalog = await deps.catalog();
        const name =
          typeof values.sd_model_checkpoint === 'string'
            ? resolveCheckpoint(values.sd_model_checkpoint, await sdModels(catalog, deps.config.MODELS_DIR))
            : null;
        if (!name)
          throw new A1111ValidationError([
            {
              loc: ['body', 'sd_model_checkpoint'],
              msg: `model ${JSON.stringify(values.sd_model_checkpoint)} not found; available: ${catalog.models.join(', ')}`,
              type: 'value_error',
            },
          ]);
        values.sd_model_checkpoint = name;
      }
      await deps.queue.a1111.setOptions(req.user!.id, values);
      const notApplied = Object.fromEntries(
        Object.entries(values)
          .filter(([k, v]) => k in A1111_IMAGE_OPTIONS && v !== null && String(v) !== String(A1111_IMAGE_OPTIONS[k]))
          .map(([k]) => [k, 'stored; changes the image and is not supported by this farm yet, so generations are refused (422) while it is set']),
      );
      res.json(Object.keys(notApplied).length ? { not_applied: notApplied } : null);
    }),
  );
  return r;
}
