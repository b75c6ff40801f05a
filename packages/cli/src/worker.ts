// npm run worker: one render worker from environment configuration.
import { loadConfig } from '@farm/core';
import { runWorkerProcess, workerTimingsFromEnv } from '@farm/worker';

try {
  await runWorkerProcess(loadConfig(), workerTimingsFromEnv(process.env));
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
