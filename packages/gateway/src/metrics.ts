// A gateway's Prometheus metrics: submissions it accepted, queue depth by state (in all and per model), live workers, and prom-client's
// standard process metrics (process_*, nodejs_*). Jobs' outcomes and latencies are counted by the workers, where jobs
// end (packages/worker/src/worker-metrics.ts), so each job counts once whichever gateway watched it.
import client from 'prom-client';
import type { FarmQueue } from '@farm/queue';

export function createMetrics(queue: FarmQueue) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const submitted = new client.Counter({ name: 'farm_jobs_submitted_total', help: 'jobs accepted by this gateway', registers: [registry] });
  new client.Gauge({
    name: 'farm_queue_jobs',
    help: 'jobs in the render queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const c = await queue.counts().catch(() => null);
      if (c) for (const state of ['waiting', 'active', 'delayed', 'succeeded', 'failed'] as const) this.set({ state }, c[state]);
    },
  });
  new client.Gauge({
    // one series per model: what KEDA's prometheus trigger of each model's worker deployment reads
    name: 'farm_queue_jobs_by_model',
    help: "jobs in each model's render queue by state",
    labelNames: ['model', 'state'],
    registers: [registry],
    async collect() {
      const byModel = await queue.countsByModel().catch(() => null);
      for (const [model, c] of Object.entries(byModel ?? {})) {
        for (const state of ['waiting', 'active', 'delayed'] as const) this.set({ model, state }, c[state]);
      }
    },
  });
  new client.Gauge({
    name: 'farm_workers_live',
    help: 'workers with a recent heartbeat',
    registers: [registry],
    async collect() {
      this.set((await queue.workers().catch(() => [])).length);
    },
  });
  return {
    registry,
    submitted: () => submitted.inc(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
