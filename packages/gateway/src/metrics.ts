// A gateway's Prometheus metrics: submissions it accepted, queue depth by state, live workers, and prom-client's
// standard process metrics (process_*, nodejs_*). Jobs' outcomes and latencies are counted by the workers, where jobs
// end (packages/worker/src/worker-metrics.ts), so each job counts once whichever gateway watched it.
import client from 'prom-client';
import type { FarmQueue } from '@farm/queue';

export function createMetrics(queue: FarmQueue) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const submitted = new client.Counter({ name: 'farm_jobs_submitted_total', help: 'jobs accepted by this gateway', registers: [registry] });
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
  return {
    registry,
    submitted: () => submitted.inc(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
