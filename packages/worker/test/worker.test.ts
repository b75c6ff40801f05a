import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { FarmQueue } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { Engine } from '@farm/engine';
import { startRedis, ensureTinyModel } from '@farm/testkit';
import { startWorker } from '../src/index';
import { tinyParams, until, terminal } from './job-helpers';

const redis = await startRedis();
const { modelsDir } = await ensureTinyModel();
const storage = createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'worker-test-')) });
afterAll(() => redis.stop());

const base: GenerationParams = tinyParams();

test('waiting jobs with one batch key run as one batch and each equals its solo run', async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const variants = [{ seed: 1 }, { seed: 2, prompt: 'a red kite' }, { seed: 3, cfg_scale: 3 }, { seed: 4, batch_size: 2 }];
  const submitted = [];
  for (const v of variants) submitted.push(await queue.submit({ ...base, ...v }, { owner: 'alice' }));
  assert.equal(submitted[0].queue_position, 1);
  assert.equal(submitted[3].queue_position, 4);
  const worker = await startWorker({ redisUrl: redis.url, prefix, modelsDir, storage, maxBatch: 4, maxPixels: 1 << 20, maxSteps: 50 });
  const finished = await Promise.all(submitted.map((s) => until(queue, s.id, terminal)));
  await worker.close();
  const engine = new Engine({ modelsDir, maxPixels: 1 << 20, maxSteps: 50 });
  for (const [i, e] of finished.entries()) {
    assert.equal(e.status, 'succeeded', e.error ?? '');
    assert.equal(e.batch_size, 4);
    assert.equal(e.output!.images.length, variants[i].batch_size ?? 1);
    const [solo] = await engine.generate([{ id: 'solo', params: { ...base, ...variants[i] } }]);
    for (const [k, key] of e.output!.images.entries()) {
      const stored = await sharp((await storage.get(key))!)
        .raw()
        .toBuffer();
      const alone = await sharp(solo.images[k]).raw().toBuffer();
      assert.ok(
        stored.every((v, j) => Math.abs(v - alone[j]) <= 2),
        `job ${i} image ${k} equals its solo run`,
      );
    }
  }
  await engine.close();
  await queue.close();
});

test('cancel: a queued job at once, a running one between steps', async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const queued = await queue.submit(base, { owner: 'alice' });
  const canceled = await queue.cancel(queued.id);
  assert.equal(canceled!.status, 'canceled');
  assert.equal((await queue.counts()).queued, 0);
  const long = await queue.submit({ ...base, steps: 50, width: 128, height: 128 }, { owner: 'alice' });
  const worker = await startWorker({ redisUrl: redis.url, prefix, modelsDir, storage, maxBatch: 4, maxPixels: 1 << 20, maxSteps: 50 });
  await until(queue, long.id, (e) => e.status === 'running' && (e.progress?.step ?? 0) >= 1);
  await queue.cancel(long.id);
  const end = await until(queue, long.id, terminal);
  assert.equal(end.status, 'canceled');
  assert.ok((end.progress?.step ?? 0) < 50, 'stopped before the last step');
  assert.equal(await storage.get(`images/${long.id}/0.png`), null);
  await worker.close();
  await queue.close();
});

test('bad input that reaches a worker fails at once without retries; list and ownership', async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  // (a job for a model no worker has waits for a worker that has it; one naming a missing LoRA reaches this worker)
  const bad = await queue.submit({ ...base, loras: [{ name: 'missing-lora', weight: 1 }] }, { owner: 'bob' });
  const good = await queue.submit(base, { owner: 'bob' });
  const worker = await startWorker({ redisUrl: redis.url, prefix, modelsDir, storage, maxBatch: 4, maxPixels: 1 << 20, maxSteps: 50 });
  const failed = await until(queue, bad.id, terminal);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error!, /missing-lora/);
  assert.equal(failed.attempts, 1, 'one attempt, not retried');
  assert.equal((await until(queue, good.id, terminal)).status, 'succeeded');
  const list = await queue.list('bob', { limit: 10, offset: 0 });
  assert.equal(list.total, 2);
  assert.deepEqual(
    list.jobs.map((j) => j.id),
    [good.id, bad.id],
  );
  assert.equal((await queue.list('someone-else', { limit: 10, offset: 0 })).total, 0);
  const workers = await queue.workers();
  assert.equal(workers.length, 1);
  assert.ok(workers[0].models.includes('tiny'), 'the heartbeat lists the models the worker can serve');
  await worker.close();
  assert.equal((await queue.workers()).length, 0);
  await queue.close();
});
