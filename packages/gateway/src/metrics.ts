// Prometheus metrics: queue depth by state, live workers, jobs by outcome, latency histograms, batch sizes.
import client from 'prom-client';
import { isTerminal, type FarmQueue, type JobEnvelope } from '@farm/queue';

export function createMetrics(queue: FarmQueue) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'farm_gateway_' });
  const submitted = new client.Counter({ name: 'farm_jobs_submitted_total', help: 'jobs accepted by this gateway', registers: [registry] });
  const finished = new client.Counter({ name: 'farm_jobs_finished_total', help: 'jobs seen finishing, by status', labelNames: ['status'], registers: [registry] });
  const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
  const queueWait = new client.Histogram({ name: 'farm_job_queue_seconds', help: 'time from submit to start', buckets, registers: [registry] });
  const runTime = new client.Histogram({ name: 'farm_job_run_seconds', help: 'time from start to finish', buckets, registers: [registry] });
  const total = new client.Histogram({ name: 'farm_job_total_seconds', help: 'time from submit to finish', buckets, registers: [registry] });
  const batchSize = new client.Histogram({ name: 'farm_batch_size', help: 'jobs per UNet batch', buckets: [1, 2, 3, 4, 6, 8, 16], registers: [registry] });
  new client.Gauge({
    name: 'farm_queue_jobs', help: 'jobs in the render queue by state', labelNames: ['state'], registers: [registry],
    async collect() {
      const c = await queue.counts().catch(() => null);
      if (c) for (const state of ['waiting', 'active', 'delayed', 'succeeded', 'failed'] as const) this.set({ state }, c[state]);
    },
  });
  new client.Gauge({
    name: 'farm_workers_live', help: 'workers with a recent heartbeat', registers: [registry],
    async collect() { this.set((await queue.workers().catch(() => [])).length); },
  });
  const seen = new Set<string>();
  return {
    registry,
    submitted: () => submitted.inc(),
    /** called with terminal envelopes this gateway observes (SSE, polling, A1111 waits) */
    observe(e: JobEnvelope) {
      if (seen.has(e.id) || !isTerminal(e.status)) return;
      seen.add(e.id);
      if (seen.size > 100_000) seen.clear();
      finished.inc({ status: e.status });
      const created = Date.parse(e.created_at);
      const started = e.started_at ? Date.parse(e.started_at) : null;
      const done = e.completed_at ? Date.parse(e.completed_at) : Date.now();
      if (started) { queueWait.observe((started - created) / 1000); runTime.observe((done - started) / 1000); }
      total.observe((done - created) / 1000);
      if (e.batch_size) batchSize.observe(e.batch_size);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
