// The per-user cap on unfinished jobs and the global queue cap, against a real Redis.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FarmError, type GenerationParams } from '@farm/core';
import { startRedis } from '@farm/testkit';
import { FarmQueue } from '../src/index';

const redis = await startRedis();
afterAll(() => redis.stop());

const params: GenerationParams = {
  kind: 'txt2img',
  model: 'tiny',
  prompt: 'a',
  negative_prompt: '',
  sampler: 'Euler',
  scheduler: 'Automatic',
  steps: 4,
  cfg_scale: 7,
  width: 64,
  height: 64,
  seed: 1,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [],
  controlnet: [],
};
const refusal = (code: string, status: number) => (e: unknown) => e instanceof FarmError && e.code === code && e.status === status;

test('a user over the cap of unfinished jobs is refused (429) until one of them ends; other users are not affected', async () => {
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `q${randomUUID().slice(0, 8)}`, maxQueuedPerUser: 2 });
  try {
    const a1 = await queue.submit(params, { owner: 'alice' });
    await queue.submit(params, { owner: 'alice' });
    await assert.rejects(
      queue.submit(params, { owner: 'alice' }),
      (e: unknown) => refusal('too_many_jobs', 429)(e) && /2 jobs queued or running/.test((e as Error).message),
    );
    assert.equal((await queue.list('alice', { limit: 10, offset: 0 })).total, 2, 'the refused job left no envelope');
    assert.equal((await queue.counts()).queued, 2, 'and nothing on the render queue');
    await queue.submit(params, { owner: 'bob' });
    await queue.cancel(a1.id);
    await queue.submit(params, { owner: 'alice' });
    assert.equal(await queue.store.unfinishedCount('alice'), 2);
  } finally {
    await queue.close();
  }
});

test('the cap forgets jobs whose envelope expired, and a refused idempotency key can be used again', async () => {
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `q${randomUUID().slice(0, 8)}`, maxQueuedPerUser: 1 });
  try {
    const first = await queue.submit(params, { owner: 'carol' });
    await assert.rejects(queue.submit(params, { owner: 'carol', idempotencyKey: 'k1' }), refusal('too_many_jobs', 429));
    await queue.redis.del(queue.keys.job(first.id)); // as if the envelope had expired with its id still in the set
    const again = await queue.submit(params, { owner: 'carol', idempotencyKey: 'k1' });
    assert.notEqual(again.id, first.id);
    assert.equal((await queue.submit(params, { owner: 'carol', idempotencyKey: 'k1' })).id, again.id, 'the key now names the accepted job');
  } finally {
    await queue.close();
  }
});

test('the global cap on waiting jobs answers 503 and queues nothing', async () => {
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `q${randomUUID().slice(0, 8)}`, maxQueued: 3 });
  try {
    for (const owner of ['a', 'b', 'c']) await queue.submit(params, { owner });
    await assert.rejects(queue.submit(params, { owner: 'd' }), (e: unknown) => refusal('queue_full', 503)(e) && /3 jobs waiting/.test((e as Error).message));
    assert.equal((await queue.counts()).queued, 3);
    assert.equal((await queue.list('d', { limit: 10, offset: 0 })).total, 0);
  } finally {
    await queue.close();
  }
});

test('jobs with a priority count as waiting (what the autoscaler reads) and for the queue cap', async () => {
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `q${randomUUID().slice(0, 8)}`, maxQueued: 2 });
  try {
    await queue.submit(params, { owner: 'a' });
    const urgent = await queue.submit(params, { owner: 'a', priority: 5 });
    assert.equal((await queue.counts()).waiting, 2);
    assert.equal(urgent.queue_position, 2, 'behind the job without a priority, which BullMQ takes first');
    await assert.rejects(queue.submit(params, { owner: 'b', priority: 1 }), refusal('queue_full', 503));
  } finally {
    await queue.close();
  }
});
