// Job events through the gateway's one pattern subscription: what a subscriber hears, what it must not hear, and
// what happens while Redis is down.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { UnavailableError, type JobEnvelope } from '@farm/core';
import { startRedis, txt2imgParams } from '@farm/testkit';
import { FarmQueue } from '../src/index';

const redis = await startRedis();
afterAll(() => redis.stop());

/** The statuses a subscriber hears, and a way to wait for one. */
function recorder() {
  const heard: JobEnvelope[] = [];
  const waiters: { status: string; resolve: () => void }[] = [];
  return {
    heard,
    onChange(e: JobEnvelope) {
      heard.push(e);
      for (const w of waiters.filter((w) => w.status === e.status)) w.resolve();
    },
    /** resolves when `status` is heard; fails after 10 s instead of waiting for the test's own timeout */
    until(status: string): Promise<void> {
      if (heard.some((e) => e.status === status)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${status}" heard in 10 s; heard: ${heard.map((e) => e.status).join(', ')}`)), 10_000);
        waiters.push({
          status,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

test('a subscriber hears each change of its job, and nothing from a queue whose prefix only matches as a glob', async () => {
  const tag = randomUUID().slice(0, 6);
  // `ev?<tag>` as a glob would also match `evX<tag>`: the pattern subscription must escape it
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `ev?${tag}` });
  const lookAlike = new FarmQueue({ redisUrl: redis.url, prefix: `evX${tag}` });
  try {
    const id = randomUUID();
    const mine = recorder();
    const other = recorder();
    const stopMine = await queue.subscribe(id, mine.onChange);
    const stopOther = await queue.subscribe(randomUUID(), other.onChange);
    // the same id on the look-alike queue: its changes go to `evX<tag>:events:<id>`
    await lookAlike.submit(txt2imgParams(), { owner: 'alice', id });
    await lookAlike.cancel(id);
    await queue.submit(txt2imgParams(), { owner: 'alice', id });
    await queue.cancel(id);
    await mine.until('canceled');
    assert.ok(mine.heard.every((e) => e.id === id));
    assert.equal(mine.heard.filter((e) => e.status === 'canceled').length, 1, "one cancel heard: not the look-alike queue's");
    assert.deepEqual(other.heard, [], 'a subscriber of another job hears nothing');
    await stopMine();
    await stopOther();
  } finally {
    await queue.close();
    await lookAlike.close();
  }
});

test('with Redis down a first subscription fails fast (503); once it is back, subscriptions work again', async () => {
  // a command timeout above the reconnect backoff's 2 s cap: once Redis is back, each connection is up within it
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `ev${randomUUID().slice(0, 6)}`, commandTimeoutMs: 3000 });
  try {
    await queue.ping();
    await redis.kill();
    await assert.rejects(
      queue.subscribe(randomUUID(), () => {}),
      (e: unknown) => e instanceof UnavailableError,
    );
    await redis.restart();
    // the connections reconnect on their own schedule (until the queue's is up, a submission is a 503)
    await queue.whenReady(10_000);
    const id = randomUUID();
    const events = recorder();
    await queue.subscribe(id, events.onChange);
    await queue.submit(txt2imgParams(), { owner: 'bob', id });
    await queue.cancel(id);
    await events.until('canceled');
  } finally {
    await queue.close();
  }
});
