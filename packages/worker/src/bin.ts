// The worker process (npm run worker, and the worker image's entry point): one render worker from environment configuration.
import { loadConfig } from '@farm/core';
import { runWorkerProcess, workerTimingsFromEnv } from './index';

try {
  await runWorkerProcess(loadConfig(), workerTimingsFromEnv(process.env));
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
