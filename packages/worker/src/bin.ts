// The worker process (npm run worker, and the worker image's entry point): one render worker from environment configuration.
import { loadConfig, tensorrtEnvironment } from '@farm/core';
import { runWorkerProcess, workerTimingsFromEnv } from './index';

try {
  const config = loadConfig();
  Object.assign(process.env, tensorrtEnvironment(config));
  await runWorkerProcess(config, workerTimingsFromEnv(process.env));
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
