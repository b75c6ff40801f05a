// Each transition of the job life cycle against a real Redis and BullMQ: what it writes, what it publishes (SSE),
// which webhook it queues, and that a terminal job is never changed again.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Worker } from 'bullmq';
import { resolveJob, type GenerationParams } from '@farm/core';
import { startRedis } from '@farm/testkit';
import { FarmQueue, deliveryId, type JobEnvelope } from '../src/index';

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
  cfg_scale: 7.123456789012345,
  width: 64,
  height: 64,
  seed: 1,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.3333333333333333,
  resize_mode: 0,
  loras: [{ name: 'x', weight: 0.1 }],
  controlnet: [],
};
const webhook = { url: 'http://hooks.example/x', events: ['start', 'progress', 'completed'] as ('start' | 'progress' | 'completed')[] };

async function withQueue(fn: (q: FarmQueue) => Promise<void>, opts: { maxQueued?: number } = {}): Promise<void> {
  const q = new FarmQueue({ redisUrl: redis.url, prefix: `l${randomUUID().slice(0, 8)}`, ...opts });
  try {
    await fn(q);
  } finally {
    await q.close();
  }
}

/** Every envelope published on the job's channel, in order. */
async function published(q: FarmQueue, id: string): Promise<{ seen: JobEnvelope[]; stop(): Promise<void> }> {
  const seen: JobEnvelope[] = [];
  const stop = await q.subscribe(id, (e) => seen.push(e));
  return { seen, stop };
}

const deliveries = async (q: FarmQueue) => (await q.webhooks.getJobs(['waiting', 'prioritized', 'delayed'])).map((j) => j.id!).sort();

test('admit stores the envelope exactly (floats, empty lists) and indexes it; start runs it and says so once', async () => {
  await withQueue(async (q) => {
    const e = await q.submit(params, { owner: 'ann', webhook });
    const stored = (await q.get(e.id))!;
    assert.equal(stored.status, 'queued');
    assert.equal(stored.queue_position, 1);
    assert.equal(stored.input.cfg_scale, 7.123456789012345, 'numbers keep every digit');
    assert.equal(stored.input.denoising_strength, 1 / 3);
    assert.deepEqual(stored.input.controlnet, [], 'empty lists stay lists');
    assert.deepEqual(stored.deliveries, []);
    assert.equal(await q.store.unfinishedCount('ann'), 1);
    const data = (await q.renderJob(e.id))!.data;
    assert.deepEqual(
      { ...data, params: undefined },
      { ...resolveJob(params), params: undefined, id: e.id, owner: 'ann' },
      'the render job carries the job resolved once',
    );
    const sub = await published(q, e.id);
    const t = await q.lifecycle.start(e, { workerId: 'w1', batchSize: 2, steps: 4, attempt: 1 });
    assert.equal(t.outcome, 'started');
    assert.equal(t.envelope!.status, 'running');
    assert.equal(t.envelope!.attempts, 1);
    assert.equal(t.envelope!.worker_id, 'w1');
    assert.deepEqual(t.envelope!.progress, { step: 0, steps: 4, eta_seconds: null });
    assert.deepEqual(await deliveries(q), [deliveryId(t.envelope!, 'start')]);
    const p = await q.lifecycle.progress(e, { step: 2, steps: 4, eta_seconds: 1.5 });
    assert.equal(p.outcome, 'progressed');
    assert.deepEqual((await q.get(e.id))!.progress, { step: 2, steps: 4, eta_seconds: 1.5 });
    await sub.stop();
    assert.deepEqual(
      sub.seen.map((s) => s.status),
      ['running', 'running'],
      'each transition published its envelope',
    );
    assert.equal(sub.seen[1].progress!.step, 2);
  });
});

test('succeed writes the result once and queues one completion webhook whose images are URLs, as GET shows them', async () => {
  await withQueue(async (q) => {
    const e = await q.submit(params, { owner: 'ann', webhook: { url: webhook.url, events: ['completed'] } });
    await q.lifecycle.start(e, { workerId: 'w1', batchSize: 1, steps: 4, attempt: 1 });
    // the job's events from here on, and a wait for the n-th (the announce is a second script: its event is checked)
    const events: JobEnvelope[] = [];
    let heard: () => void = () => {};
    const stop = await q.subscribe(e.id, (env) => {
      events.push(env);
      heard();
    });
    const events$ = (n: number) =>
      new Promise<void>((resolve) => {
        heard = () => events.length >= n && resolve();
        heard();
      });
    const output = { images: [`images/${e.id}/0.png`], seeds: [1], infotexts: ['a'] };
    const done = await q.lifecycle.succeed(e, output);
    assert.equal(done.outcome, 'succeeded');
    assert.deepEqual(done.envelope!.output, output);
    await events$(1);
    assert.deepEqual(events[0], done.envelope, 'its event is the envelope the transition answered');
    assert.equal(await q.store.unfinishedCount('ann'), 0);
    const again = await q.lifecycle.succeed(e, { images: ['other'], seeds: [2], infotexts: ['b'] });
    assert.equal(again.outcome, 'terminal');
    await events$(2);
    assert.deepEqual(events[1], done.envelope, 'a rerun announces the finished envelope again, unchanged');
    await stop();
    assert.deepEqual((await q.get(e.id))!.output, output, 'a second result is not written');
    const ids = await deliveries(q);
    assert.deepEqual(ids, [deliveryId(done.envelope!, 'completed')], 'one completion webhook, not two');
    const payload = (await q.webhooks.getJob(ids[0]))!.data.payload;
    assert.deepEqual(payload.output!.images, [`/v1/images/${e.id}/0.png`]);
    assert.equal(payload.links.self, `/v1/jobs/${e.id}`);
  });
});

test('a terminal job refuses every transition, unchanged', async () => {
  await withQueue(async (q) => {
    const e = await q.submit(params, { owner: 'ann' });
    await q.lifecycle.start(e, { workerId: 'w1', batchSize: 1, steps: 4, attempt: 1 });
    await q.lifecycle.fail(e, 'boom');
    const before = (await q.get(e.id))!;
    assert.equal(before.status, 'failed');
    for (const t of [
      await q.lifecycle.start(e, { workerId: 'w2', batchSize: 1, steps: 4, attempt: 1 }),
      await q.lifecycle.retry(e, 'again', 2),
      await q.lifecycle.succeed(e, { images: [], seeds: [], infotexts: [] }),
      await q.lifecycle.fail(e, 'other'),
      await q.lifecycle.cancel(e),
      await q.lifecycle.requestCancel(e),
    ])
      assert.equal(t.outcome, 'terminal');
    assert.equal((await q.lifecycle.progress(e, { step: 1, steps: 4, eta_seconds: null })).outcome, 'ignored');
    assert.deepEqual(await q.get(e.id), before);
    assert.equal(await q.isCancelRequested(e.id), false);
  });
});

test('retry puts a failed attempt back to queued with the reason; no webhook for it', async () => {
  await withQueue(async (q) => {
    const e = await q.submit(params, { owner: 'ann', webhook: { url: webhook.url, events: ['completed'] } });
    await q.lifecycle.start(e, { workerId: 'w1', batchSize: 1, steps: 4, attempt: 1 });
    const t = await q.lifecycle.retry(e, 'attempt 1 failed: x; retrying', 1);
    assert.equal(t.outcome, 'retrying');
    assert.equal(t.envelope!.status, 'queued');
    assert.equal(t.envelope!.error, 'attempt 1 failed: x; retrying');
    assert.equal(t.envelope!.progress, null);
    assert.equal(await q.store.unfinishedCount('ann'), 1);
    assert.deepEqual(await deliveries(q), []);
    assert.equal(t.envelope!.attempts, 1);
    assert.equal((await q.lifecycle.start(e, { workerId: 'w2', batchSize: 1, steps: 4, attempt: 2 })).envelope!.attempts, 2);
  });
});

test('cancel: a queued job ends at once and leaves BullMQ; a running one is flagged for its worker, who then ends it', async () => {
  await withQueue(async (q) => {
    const queued = await q.submit(params, { owner: 'ann', webhook: { url: webhook.url, events: ['completed'] } });
    const canceled = (await q.cancel(queued.id))!;
    assert.equal(canceled.status, 'canceled');
    assert.equal(await q.renderJob(queued.id), undefined, 'removed from the render queue');
    assert.deepEqual(await deliveries(q), [deliveryId(canceled, 'completed')]);

    const running = await q.submit(params, { owner: 'ann' });
    const takerConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const taker = new Worker(q.keys.renderQueue(params.model), null, { connection: takerConnection, prefix: q.prefix, autorun: false });
    assert.equal((await taker.getNextJob('token'))!.id, running.id, 'a worker holds the job');
    const listener = new Redis(redis.url);
    const heard = new Promise<string>((resolve) => listener.on('message', (_c: string, id: string) => resolve(id)));
    await listener.subscribe(q.keys.cancelChannel);
    await q.lifecycle.start(running, { workerId: 'w1', batchSize: 1, steps: 4, attempt: 1 });
    const flagged = (await q.cancel(running.id))!;
    assert.equal(flagged.status, 'running');
    assert.equal(flagged.cancel_requested, true);
    assert.equal(await heard, running.id, 'workers hear the request');
    listener.disconnect();
    assert.equal(await q.isCancelRequested(running.id), true);
    const ended = await q.lifecycle.cancel(running);
    assert.equal(ended.envelope!.status, 'canceled');
    assert.equal(await q.isCancelRequested(running.id), false, 'the flag goes with the job');
    assert.equal(await q.store.unfinishedCount('ann'), 0);
    await taker.close();
    takerConnection.disconnect();
  });
});

test('a job asked to stop before any worker started it ends canceled at start', async () => {
  await withQueue(async (q) => {
    const e = await q.submit(params, { owner: 'ann' });
    await q.lifecycle.requestCancel(e);
    const t = await q.lifecycle.start(e, { workerId: 'w1', batchSize: 1, steps: 4, attempt: 1 });
    assert.equal(t.outcome, 'canceled');
    assert.equal(t.envelope!.status, 'canceled');
    assert.equal(t.envelope!.attempts, 0, 'it never ran');
  });
});

test('webhook deliveries are appended to the envelope, terminal or not', async () => {
  await withQueue(async (q) => {
    const e = await q.submit(params, { owner: 'ann' });
    await q.lifecycle.cancel(e);
    const at = new Date().toISOString();
    await q.lifecycle.recordDelivery(e.id, { event: 'completed', attempt: 1, status: 500, ok: false, at, error: 'HTTP 500' });
    await q.lifecycle.recordDelivery(e.id, { event: 'completed', attempt: 2, status: 200, ok: true, at });
    assert.deepEqual((await q.get(e.id))!.deliveries, [
      { event: 'completed', attempt: 1, status: 500, ok: false, at, error: 'HTTP 500' },
      { event: 'completed', attempt: 2, status: 200, ok: true, at },
    ]);
  });
});

test('eight concurrent submissions with one idempotency key admit one job; all get its id (five rounds)', async () => {
  await withQueue(async (q) => {
    for (let round = 0; round < 5; round++) {
      const key = `k${round}`;
      const answers = await Promise.all(Array.from({ length: 8 }, () => q.submit(params, { owner: 'ann', idempotencyKey: key })));
      assert.equal(new Set(answers.map((a) => a.id)).size, 1, `round ${round}: ${answers.map((a) => a.id).join(' ')}`);
    }
    assert.equal((await q.counts()).queued, 5, 'one render job per key');
    assert.equal((await q.list('ann', { limit: 100, offset: 0 })).total, 5);
    assert.notEqual(
      (await q.submit(params, { owner: 'bob', idempotencyKey: 'k0' })).id,
      (await q.submit(params, { owner: 'ann', idempotencyKey: 'k0' })).id,
      'keys are per owner',
    );
  });
});
