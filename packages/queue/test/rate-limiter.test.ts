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
  const limiter = new RateLimiter(redis, (budget, user) => keys.rateLimit(budget, user), [{ name: 'requests', perMinute: 6 }]);
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
  const key = (budget: string, user: string) => keys.rateLimit(budget, user);
  const budgets = [{ name: 'submits', perMinute: 4 }];
  const other = new Redis(server.url);
  try {
    const one = new RateLimiter(redis, key, budgets);
    const two = new RateLimiter(other, key, budgets);
    const allowed = [];
    for (let i = 0; i < 4; i++) allowed.push((await (i % 2 ? one : two).take('alice')).allowed);
    assert.deepEqual(allowed, [true, true, true, true]);
    assert.equal((await one.take('alice')).allowed, false);
    assert.equal((await two.take('alice')).allowed, false);
  } finally {
    other.disconnect();
  }
});

test('one call spends from several budgets, all or nothing, and names the budget that refused', async () => {
  const keys = new FarmKeys(`rl${randomUUID().slice(0, 6)}`);
  const limiter = new RateLimiter(redis, (budget, user) => keys.rateLimit(budget, user), [
    { name: 'requests', perMinute: 3 },
    { name: 'submits', perMinute: 2 },
  ]);
  // two submissions spend one of each budget
  for (let i = 0; i < 2; i++) assert.equal((await limiter.take('alice')).allowed, true);
  // the third is refused by the submission budget, and spends no request either
  const refused = await limiter.take('alice');
  assert.equal(refused.allowed, false);
  assert.equal(refused.refusedBy?.name, 'submits');
  assert.ok(refused.retryAfterSeconds >= 29 && refused.retryAfterSeconds <= 30, `retry after ${refused.retryAfterSeconds}`);
  // so one plain request still fits in the request budget (3), and then that budget refuses
  assert.equal((await limiter.take('alice', ['requests'])).allowed, true);
  const overRequests = await limiter.take('alice', ['requests']);
  assert.equal(overRequests.allowed, false);
  assert.equal(overRequests.refusedBy?.name, 'requests');
  // the limiter state is one key per budget and user
  assert.ok(await redis.exists(keys.rateLimit('requests', 'alice')));
  assert.ok(await redis.exists(keys.rateLimit('submits', 'alice')));
});
