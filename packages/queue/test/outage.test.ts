// Submissions while Redis is away answer 503 instead of hanging, and the queues recover when Redis is back: BullMQ
// waits for a connection that has never come up for as long as it takes, and keeps a queue whose start failed failed
// for good. (The route-level 503s are in the gateway's hardening test.)
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { UnavailableError } from '@farm/core';
import { freePort, startRedis, txt2imgParams } from '@farm/testkit';
import { FarmQueue } from '../src/index';

const redis = await startRedis({ appendonly: false });
afterAll(() => redis.stop());

// a regression hangs: these fail at their own timeout, not the suite's
const HANG = { timeout: 20_000 };

test('a farm whose Redis never came up refuses a submission with a 503 instead of waiting for it', HANG, async () => {
  const queue = new FarmQueue({ redisUrl: `redis://127.0.0.1:${await freePort()}`, prefix: 'never', commandTimeoutMs: 300 });
  try {
    await assert.rejects(queue.submit(txt2imgParams(), { owner: 'alice' }), (e: unknown) => e instanceof UnavailableError && e.status === 503);
  } finally {
    queue.disconnect();
  }
});

test('queues first used while Redis does not answer work once it answers again: the next submission goes through, webhooks are queued', HANG, async () => {
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `o${randomUUID().slice(0, 8)}`, commandTimeoutMs: 1000 });
  const admin = new Redis(redis.url);
  try {
    await queue.whenReady();
    // every client's commands wait until the pause ends: the tiny model's render queue, first used now, meets it as it
    // starts (and the webhooks queue, made with the FarmQueue, may still be starting)
    await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    await assert.rejects(queue.submit(txt2imgParams(), { owner: 'alice' }), (e: unknown) => e instanceof UnavailableError);
    await admin.ping(); // answered once the pause is over
    const job = await queue.submit(txt2imgParams(), { owner: 'alice', webhook: { url: 'http://127.0.0.1:9/hook', events: ['completed'] } });
    assert.equal(job.status, 'queued');
    assert.equal(await queue.jobState(job.id), 'waiting');
    // a terminal transition queues the job's webhook on the webhooks queue
    await queue.cancel(job.id);
    assert.equal((await queue.webhooks.getJobCounts('waiting')).waiting, 1);
  } finally {
    admin.disconnect();
    await queue.close();
  }
});
