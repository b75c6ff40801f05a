// AUTOMATIC1111-compatible routes (/sdapi/v1/..., /controlnet/...), on top of the queue: each generation call
// enqueues a job for the caller and waits for it; the gateway never runs a model.
import { Router } from 'express';
import type { Catalog, FarmConfig } from '@farm/core';
import type { FarmQueue } from '@farm/queue';
import type { Storage } from '@farm/storage';
import type { Metrics } from '../metrics';
import type { DetectPool } from '../images/detect-pool';
import { generateRoutes } from './generate';
import { progressRoutes } from './progress';
import { listRoutes } from './lists';
import { optionRoutes } from './options';
import { pngInfoRoutes } from './png-info';
import { controlNetRoutes } from './controlnet';
import { extrasRoutes } from './extras';
import { a1111ErrorHandler } from './errors';

export interface A1111Deps {
  config: FarmConfig;
  queue: FarmQueue;
  storage: Storage;
  catalog(): Promise<Catalog>;
  metrics: Metrics;
  /** the /controlnet/detect thread (one is started on first use when absent) */
  detectPool?: DetectPool;
}

export function a1111Router(deps: A1111Deps): Router {
  const r = Router();
  r.use(generateRoutes(deps), progressRoutes(deps), listRoutes(deps), optionRoutes(deps), pngInfoRoutes(), controlNetRoutes(deps), extrasRoutes(deps));
  r.use(['/sdapi', '/controlnet'], a1111ErrorHandler());
  return r;
}
