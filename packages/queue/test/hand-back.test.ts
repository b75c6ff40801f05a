// A job a worker takes and hands back (another batch key came first, or a claim it will not run) did not start: its
// count of attempts started (BullMQ's, which the envelope's `attempts` shows) is as before the take.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startRedis, txt2imgParams } from '@farm/testkit';
import { FarmQueue } from '../src/index';
import { ModelQueues } from '../src/model-queues';
import { blockingConnection } from '../src/redis';

const redis = await startRedis({ appendonly: false });
afterAll(() => redis.stop());

test('a job handed back keeps its count of attempts started: the next take is its first', async () => {
  const prefix = `hb${randomUUID().slice(0, 6)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const connection = blockingConnection(redis.url);
  const queues = new ModelQueues({
    redisUrl: redis.url,
    prefix,
    keys: queue.keys,
    connection,
    lockMs: 30_000,
    stalledIntervalMs: 30_000,
    onFailedForGood: () => {},
    log: () => {},
  });
  try {
    const job = await queue.submit(txt2imgParams(), { owner: 'alice' });
    await queues.ensure(['tiny']);
    const [first] = await queues.take('tiny', 1);
    assert.equal(first.job.id, job.id);
    assert.equal(first.job.attemptsStarted, 1);
    await queues.handBack(first);
    const [again] = await queues.take('tiny', 1);
    assert.equal(again.job.id, job.id, 'back at the head of its queue');
    assert.equal(again.job.attemptsStarted, 1, 'the hand-back did not count as an attempt');
  } finally {
    await queues.close();
    connection.disconnect();
    await queue.close();
  }
});
