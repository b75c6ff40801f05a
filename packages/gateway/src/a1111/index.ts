// AUTOMATIC1111-compatible routes (/sdapi/v1/...), on top of the queue.
import { Router } from 'express';
import type { Catalog, FarmConfig } from '@farm/core';
import type { FarmQueue } from '@farm/queue';
import type { Storage } from '@farm/storage';
import type { Metrics } from '../metrics';

export interface A1111Deps {
  config: FarmConfig;
  queue: FarmQueue;
  storage: Storage;
  catalog(): Promise<Catalog>;
  metrics: Metrics;
}

export function a1111Router(_deps: A1111Deps): Router {
  return Router();
}
