// A worker's Prometheus metrics and liveness. Jobs are counted here, where they end, so every job is counted once
// whichever gateway (if any) watched it; process metrics keep prom-client's standard names (process_*, nodejs_*)
// so stock Node.js dashboards work.
import client from 'prom-client';
import type { JobEnvelope } from '@farm/core';
import type { RenderObserver } from '@farm/queue';

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

/** Stuck = no turn of the fetch loop and no denoising step for `stuckMs`. Pure, for the liveness probe. */
export function isStuck(lastActivityMs: number, nowMs: number, stuckMs: number): boolean {
  return nowMs - lastActivityMs > stuckMs;
}

export interface WorkerMetrics {
  registry: client.Registry;
  observer: RenderObserver;
  lastActivityMs(): number;
}

export function createWorkerMetrics(opts: { sessionCacheBytes?: () => number; now?: () => number } = {}): WorkerMetrics {
  const now = opts.now ?? Date.now;
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const ended = new client.Counter({
    name: 'farm_jobs_finished_total',
    help: 'jobs ended by this worker, by status',
    labelNames: ['status'],
    registers: [registry],
  });
  const queueWait = new client.Histogram({
    name: 'farm_job_queue_seconds',
    help: 'time from submit to start, of jobs this worker ended',
    buckets: SECONDS,
    registers: [registry],
  });
  const runTime = new client.Histogram({
    name: 'farm_job_run_seconds',
    help: 'time from start to end (render and store)',
    buckets: SECONDS,
    registers: [registry],
  });
  const total = new client.Histogram({ name: 'farm_job_total_seconds', help: 'time from submit to end', buckets: SECONDS, registers: [registry] });
  const batchSize = new client.Histogram({
    name: 'farm_worker_batch_size',
    help: 'jobs per engine batch',
    buckets: [1, 2, 3, 4, 6, 8, 16],
    registers: [registry],
  });
  const surveys = new client.Counter({
    name: 'farm_worker_queue_surveys_total',
    help: 'reads of the model queues (one round trip each); a job of the warm model that wakes an idle worker needs none',
    registers: [registry],
  });
  const steps = new client.Counter({ name: 'farm_worker_steps_total', help: 'denoising steps run (rate() gives steps/s)', registers: [registry] });
  const imageSteps = new client.Counter({ name: 'farm_worker_image_steps_total', help: 'denoising steps times images in the batch', registers: [registry] });
  const switches = new client.Counter({
    name: 'farm_worker_model_switches_total',
    help: "batches whose model differs from the previous batch's",
    registers: [registry],
  });
  if (opts.sessionCacheBytes) {
    const read = opts.sessionCacheBytes;
    new client.Gauge({
      name: 'farm_worker_session_cache_bytes',
      help: 'bytes of model sessions held',
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
  let lastActivity = now();
  let lastModel: string | null = null;
  const seconds = (from: string | null, to: string | null) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null);
  const observer: RenderObserver = {
    tick: () => {
      lastActivity = now();
    },
    surveyed: () => surveys.inc(),
    batchStarted({ size, model }) {
      lastActivity = now();
      batchSize.observe(size);
      if (lastModel !== null && lastModel !== model) switches.inc();
      lastModel = model;
    },
    step(rows) {
      lastActivity = now();
      steps.inc();
      imageSteps.inc(rows);
    },
    jobEnded(e: JobEnvelope) {
      ended.inc({ status: e.status });
      const wait = seconds(e.created_at, e.started_at);
      const run = seconds(e.started_at, e.completed_at);
      const all = seconds(e.created_at, e.completed_at);
      if (wait !== null) queueWait.observe(wait);
      if (run !== null) runTime.observe(run);
      if (all !== null) total.observe(all);
    },
  };
  return { registry, observer, lastActivityMs: () => lastActivity };
}
