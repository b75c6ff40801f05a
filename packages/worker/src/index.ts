export { startWorker, type WorkerOptions } from './start-worker';
export { runWorkerProcess, workerTimingsFromEnv } from './main';
