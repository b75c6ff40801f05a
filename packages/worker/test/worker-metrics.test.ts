// A worker's metrics and liveness: jobs counted where they end (by the worker), batch sizes, steps, model switches,
// standard process metric names; /healthz turns 503 once the loop has made no progress for the stuck limit.
import { test, onTestFinished } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { JobEnvelope } from '@farm/core';
import { FarmQueue } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startRedis, ensureTinyModel } from '@farm/testkit';
import { startWorker } from '../src/index';
import { createWorkerMetrics, isStuck } from '../src/worker-metrics';
import { startHealthServer } from '../src/health-server';
import { tinyParams, until, terminal } from './job-helpers';

/** the value of one sample line of Prometheus text, e.g. sample(text, 'farm_jobs_finished_total{status="succeeded"}') */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

const envelope = (status: JobEnvelope['status'], created: string, started: string | null, completed: string): JobEnvelope =>
  ({ id: randomUUID(), status, created_at: created, started_at: started, completed_at: completed }) as JobEnvelope;

test('isStuck: strictly past the limit', () => {
  assert.equal(isStuck(1000, 1000 + 5000, 5000), false);
  assert.equal(isStuck(1000, 1000 + 5001, 5000), true);
});

test('counters: jobs by status with their durations, batch sizes, steps, model switches', async () => {
  const m = createWorkerMetrics();
  m.observer.batchStarted!({ size: 3, model: 'a', found: 'survey' });
  m.observer.batchStarted!({ size: 1, model: 'a', found: 'survey' });
  m.observer.batchStarted!({ size: 2, model: 'b', found: 'survey' });
  m.observer.batchStarted!({ size: 1, model: 'a', found: 'survey' });
  for (let i = 0; i < 5; i++) m.observer.step!(3);
  m.observer.jobEnded!(envelope('succeeded', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:05.000Z'));
  m.observer.jobEnded!(envelope('failed', '2026-01-01T00:00:00.000Z', null, '2026-01-01T00:00:01.000Z'));
  const text = await m.registry.metrics();
  assert.equal(sample(text, 'farm_worker_model_switches_total'), 2); // a -> b -> a
  assert.equal(sample(text, 'farm_worker_batch_size_count'), 4);
  assert.equal(sample(text, 'farm_worker_batch_size_sum'), 7);
  assert.equal(sample(text, 'farm_worker_steps_total'), 5);
  assert.equal(sample(text, 'farm_worker_image_steps_total'), 15);
  assert.equal(sample(text, 'farm_jobs_finished_total{status="succeeded"}'), 1);
  assert.equal(sample(text, 'farm_jobs_finished_total{status="failed"}'), 1);
  assert.equal(sample(text, 'farm_job_queue_seconds_sum'), 2); // the failed job never started: no queue time
  assert.equal(sample(text, 'farm_job_run_seconds_sum'), 3);
  assert.equal(sample(text, 'farm_job_total_seconds_sum'), 6);
  // prom-client's standard names, as stock Node.js dashboards expect
  assert.ok(sample(text, 'process_cpu_user_seconds_total') !== null);
  assert.ok(text.includes('nodejs_eventloop_lag_seconds'));
});

test('/healthz: 200 while the loop moves, 503 once it has not moved for the stuck limit; /metrics serves the registry', async () => {
  let clock = 1_000_000;
  const m = createWorkerMetrics({ now: () => clock });
  const health = await startHealthServer({ port: 0, host: '127.0.0.1', metrics: m, stuckMs: 60_000, now: () => clock });
  try {
    const get = (path: string) => fetch(`http://127.0.0.1:${health.port}${path}`);
    assert.equal((await get('/healthz')).status, 200);
    clock += 60_001;
    const stuck = await get('/healthz');
    assert.equal(stuck.status, 503);
    assert.equal((await stuck.json()).status, 'stuck');
    m.observer.step!(1); // a step is progress
    assert.equal((await get('/healthz')).status, 200);
    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.ok((await metrics.text()).includes('farm_worker_steps_total 1'));
    assert.equal((await get('/other')).status, 404);
  } finally {
    await health.close();
  }
});

test('a real worker counts the jobs it ends and the batches it runs', async () => {
  const redis = await startRedis();
  onTestFinished(() => redis.stop());
  const { modelsDir } = await ensureTinyModel();
  const prefix = `m${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const metrics = createWorkerMetrics();
  const submitted = [];
  for (const seed of [1, 2, 3]) submitted.push(await queue.submit(tinyParams({ seed, steps: 3 }), { owner: 'alice' }));
  // a job's terminal envelope is published before its worker hears back and counts it: wait for the counting
  let counted = 0;
  let allCounted: () => void;
  const threeCounted = new Promise<void>((r) => (allCounted = r));
  const worker = await startWorker({
    redisUrl: redis.url,
    prefix,
    modelsDir,
    storage: createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'worker-metrics-')) }),
    maxBatch: 4,
    maxPixels: 1 << 20,
    maxSteps: 50,
    observer: {
      ...metrics.observer,
      jobEnded: (e, t) => {
        metrics.observer.jobEnded!(e, t);
        if (++counted === 3) allCounted();
      },
    },
  });
  try {
    const ended = await Promise.all(submitted.map((j) => until(queue, j.id, terminal)));
    assert.deepEqual(
      ended.map((e) => e.status),
      ['succeeded', 'succeeded', 'succeeded'],
    );
    await threeCounted;
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'farm_jobs_finished_total{status="succeeded"}'), 3);
    const batches = sample(text, 'farm_worker_batch_size_count')!;
    assert.equal(sample(text, 'farm_worker_batch_size_sum'), 3, 'every job ran in exactly one batch');
    assert.equal(sample(text, 'farm_worker_steps_total'), 3 * batches);
  } finally {
    await worker.close();
    await queue.close();
  }
});
