// Faults inside a worker, injected for real: a model file that is corrupt, an engine error on one job of a batch,
// the S3 server going away. Each fails only the job it touches, after a bounded number of attempts, with a reason.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { GenerationParams } from '@farm/core';
import { FarmQueue, RenderWorker, type RenderEngine } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { Engine } from '@farm/engine';
import { startRedis, startS3Server, ensureTinyModel } from '@farm/testkit';
import { startWorker } from '../src/index';
import { tinyParams, until, terminal } from './job-helpers';

const redis = await startRedis();
const { modelsDir: sharedModels } = await ensureTinyModel();
afterAll(() => redis.stop());

const base: GenerationParams = tinyParams({ prompt: 'a lighthouse', sampler: 'Euler', steps: 3, seed: 5 });
const newPrefix = () => `f${randomUUID().slice(0, 8)}`;

/** A models folder of its own: the tiny model and `broken`, a copy whose UNet file is overwritten with garbage. */
function modelsWithBrokenCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'farm-broken-models-'));
  cpSync(join(sharedModels, 'tiny'), join(dir, 'tiny'), { recursive: true });
  cpSync(join(sharedModels, 'tiny'), join(dir, 'broken'), { recursive: true });
  const unetDir = join(dir, 'broken', 'unet');
  const onnx = readdirSync(unetDir).find((f) => f.endsWith('.onnx'))!;
  writeFileSync(join(unetDir, onnx), Buffer.alloc(statSync(join(unetDir, onnx)).size, 0x5a));
  return dir;
}

test('a corrupt model file fails its own jobs after the configured attempts; the worker goes on serving', async () => {
  const modelsDir = modelsWithBrokenCopy();
  const prefix = newPrefix();
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, attempts: 2 });
  const storage = createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'farm-faults-')) });
  const before = await queue.submit(base, { owner: 'alice' });
  const broken = await queue.submit({ ...base, model: 'broken' }, { owner: 'alice' });
  const worker = await startWorker({ redisUrl: redis.url, prefix, modelsDir, storage, maxBatch: 4, maxPixels: 1 << 20, maxSteps: 50 });
  try {
    const failed = await until(queue, broken.id, terminal);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.attempts, 2, `ran exactly the configured number of attempts: ${failed.error}`);
    assert.match(failed.error!, /broken/, `the reason names the model: ${failed.error}`);
    assert.equal(failed.output, null);
    assert.equal((await until(queue, before.id, terminal)).status, 'succeeded');
    const later = await queue.submit({ ...base, seed: 6 }, { owner: 'alice' });
    const done = await until(queue, later.id, terminal);
    assert.equal(done.status, 'succeeded', 'the same worker still serves good jobs');
    assert.equal(done.worker_id, worker.id);
  } finally {
    await worker.close();
    await queue.close();
  }
});

test('an engine error on one job of a batch fails that job only, at once (a plain Error is a bug: not retried); the rest of the batch succeeds', async () => {
  const prefix = newPrefix();
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, attempts: 2 });
  const engine = new Engine({ modelsDir: sharedModels, maxPixels: 1 << 20, maxSteps: 50 });
  // the injected fault: any engine call that contains the poisoned job throws, as a bad kernel or OOM would
  const faulty: RenderEngine = {
    listModels: () => engine.listModels(),
    listLoras: () => engine.listLoras(),
    validate: (p) => engine.validate(p),
    async generate(items, hooks) {
      if (items.some((i) => i.params.prompt.includes('poison'))) throw new Error('CUDA error: an illegal memory access was encountered');
      return engine.generate(items, hooks);
    },
  };
  const stored = new Map<string, number>();
  const ids = [];
  for (const prompt of ['a red boat', 'poison', 'a blue boat', 'a green boat']) ids.push((await queue.submit({ ...base, prompt }, { owner: 'alice' })).id);
  const worker = new RenderWorker({
    redisUrl: redis.url,
    prefix,
    maxBatch: 4,
    engine: faulty,
    storeImages: async (jobId, images) => {
      stored.set(jobId, (stored.get(jobId) ?? 0) + 1);
      return images.map((_, n) => `images/${jobId}/${n}.png`);
    },
  });
  await worker.start();
  try {
    const ends = await Promise.all(ids.map((id) => until(queue, id, terminal)));
    assert.deepEqual(
      ends.map((e) => e.status),
      ['succeeded', 'failed', 'succeeded', 'succeeded'],
    );
    assert.match(ends[1].error!, /illegal memory access/);
    assert.equal(ends[1].attempts, 1, 'an unclassified error is a bug: failed on its first attempt');
    for (const i of [0, 2, 3]) {
      assert.equal(stored.get(ids[i]), 1, `job ${i} stored its result once`);
      assert.equal(ends[i].output!.images.length, 1);
    }
    assert.equal(stored.has(ids[1]), false);
  } finally {
    await worker.close();
    await engine.close();
    await queue.close();
  }
});

test('S3 down: stores are retried; back in time the job succeeds, down for good it fails clearly after the retries', async () => {
  const s3 = await startS3Server({ bucket: 'faults' });
  const prefix = newPrefix();
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, attempts: 2 });
  const storage = createStorage(s3.config);
  const worker = await startWorker({
    redisUrl: redis.url,
    prefix,
    modelsDir: sharedModels,
    storage,
    storageAttempts: 2,
    maxBatch: 4,
    maxPixels: 1 << 20,
    maxSteps: 50,
  });
  try {
    await s3.stop();
    const recovers = await queue.submit(base, { owner: 'alice' });
    const retrying = await until(
      queue,
      recovers.id,
      (e) => e.status === 'queued' && /attempt 1 failed: storing .* failed after 2 attempts/.test(e.error ?? ''),
    );
    assert.equal(retrying.attempts, 1);
    await s3.restart();
    const ok = await until(queue, recovers.id, terminal);
    assert.equal(ok.status, 'succeeded', ok.error ?? '');
    assert.equal(ok.attempts, 2);
    assert.ok((await storage.get(ok.output!.images[0]))!.subarray(1, 4).equals(Buffer.from('PNG')), 'the image is in the bucket');

    await s3.stop();
    const lost = await queue.submit({ ...base, seed: 9 }, { owner: 'alice' });
    const failed = await until(queue, lost.id, terminal);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.attempts, 2);
    assert.match(failed.error!, /storing images\/.*\.png failed after 2 attempts/);
  } finally {
    await worker.close();
    await queue.close();
    await s3.restart();
    await s3.stop();
  }
});
