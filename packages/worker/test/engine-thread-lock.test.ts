// A batch whose single UNet call outlasts the job lock: with the engine in its worker thread the event loop keeps
// renewing the lock, so the job runs exactly once (in-process, the blocked loop lets the lock lapse and the stalled
// check hands the job out again).
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FarmQueue } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startRedis, ensureTinyModel } from '@farm/testkit';
import { startWorker } from '../src/index';
import { tinyParams, until, terminal } from './job-helpers';

const redis = await startRedis();
const { modelsDir } = await ensureTinyModel();
afterAll(() => redis.stop());

const LOCK_MS = 1000;

test('a batch longer than the lock duration, each UNet call longer than the lock, runs exactly once', async () => {
  const prefix = `l${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, attempts: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'farm-lock-'));
  const storage = createStorage({ kind: 'fs', dir });
  // the slow model: the tiny UNet at 640x640 (6400-token attention) on one intra-op thread
  const params = tinyParams({ width: 640, height: 640, steps: 4, sampler: 'Euler', seed: 11 });
  const job = await queue.submit(params, { owner: 'alice' });
  const worker = await startWorker({
    redisUrl: redis.url,
    prefix,
    modelsDir,
    storage,
    maxBatch: 1,
    maxPixels: 640 * 640,
    maxSteps: 50,
    intraOpThreads: 1,
    lockDurationMs: LOCK_MS,
    stalledIntervalMs: 300,
  });
  try {
    const done = await until(queue, job.id, terminal, 120_000);
    assert.equal(done.status, 'succeeded', done.error ?? '');
    const ran = Date.parse(done.completed_at!) - Date.parse(done.started_at!);
    assert.ok(ran > 3 * LOCK_MS, `precondition: the batch (${ran} ms) outlived its lock several times over`);
    assert.equal(done.attempts, 1, 'started once');
    assert.deepEqual(readdirSync(join(dir, 'images', job.id)), ['0.png'], 'one result');
    await worker.close(); // lets the batch's completion reach BullMQ
    const bull = (await queue.renderJob(job.id))!;
    assert.equal(bull.stalledCounter, 0, 'the stalled check never took the job back');
    assert.equal(await bull.getState(), 'completed', 'completed in BullMQ, not handed out again');
  } finally {
    await worker.close();
    await queue.close();
  }
});
