// The shared per-user request budget (GCRA in Redis).
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis } from '@farm/testkit';
import { FarmKeys, RateLimiter } from '../src/index';

const server = await startRedis();
const redis = new Redis(server.url);
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

test('a budget of N per minute lets N through at once, refuses the next with the wait until one refills', async () => {
  const keys = new FarmKeys(`rl${randomUUID().slice(0, 6)}`);
  const limiter = new RateLimiter(redis, (user) => keys.rateLimit('requests', user), 6);
  const decisions = [];
  for (let i = 0; i < 7; i++) decisions.push(await limiter.take('alice'));
  assert.deepEqual(
    decisions.map((d) => d.allowed),
    [true, true, true, true, true, true, false],
  );
  // one request refills every 10 s
  assert.ok(decisions[6].retryAfterSeconds >= 9 && decisions[6].retryAfterSeconds <= 10, `retry after ${decisions[6].retryAfterSeconds}`);
  assert.equal((await limiter.take('bob')).allowed, true, 'each user has a budget of their own');
  assert.equal((await limiter.take('alice')).allowed, false, 'refused requests do not extend the wait');
});

test('two limiters on the same keys (two gateways) share one budget', async () => {
  const keys = new FarmKeys(`rl${randomUUID().slice(0, 6)}`);
  const key = (user: string) => keys.rateLimit('submits', user);
  const other = new Redis(server.url);
  try {
    const one = new RateLimiter(redis, key, 4);
    const two = new RateLimiter(other, key, 4);
    const allowed = [];
    for (let i = 0; i < 4; i++) allowed.push((await (i % 2 ? one : two).take('alice')).allowed);
    assert.deepEqual(allowed, [true, true, true, true]);
    assert.equal((await one.take('alice')).allowed, false);
    assert.equal((await two.take('alice')).allowed, false);
  } finally {
    other.disconnect();
  }
});
