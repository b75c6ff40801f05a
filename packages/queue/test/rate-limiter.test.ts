// The shared per-user request budget (GCRA in Redis).
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis, txt2imgParams } from '@farm/testkit';
import { FarmKeys, FarmQueue, RateLimiter, RateRefusal } from '../src/index';

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

test("a submission's budgets are spent by its admit: refused, nothing is queued or added to BullMQ, and the refusal is then known without Redis", async () => {
  const prefix = `rl${randomUUID().slice(0, 6)}`;
  const queue = new FarmQueue({ redisUrl: server.url, prefix });
  const limiter = queue.rateLimiter([
    { name: 'requests', perMinute: 10 },
    { name: 'submits', perMinute: 2 },
  ]);
  const spendOf = () => {
    const planned = limiter.plan('alice');
    assert.ok(planned && 'spend' in planned, 'nothing known yet: a spend to send');
    return planned.spend;
  };
  try {
    const admitted = [];
    for (let i = 0; i < 2; i++) admitted.push(await queue.submit(txt2imgParams(), { owner: 'alice', spend: spendOf() }));
    assert.ok(await redis.exists(queue.keys.rateLimit('submits', 'alice')), 'the admit spent the submission budget');
    const id = randomUUID();
    const refused = await queue.submit(txt2imgParams(), { owner: 'alice', id, spend: spendOf() }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof RateRefusal, `refused: ${String(refused)}`);
    assert.equal(refused.decision.refusedBy?.name, 'submits');
    assert.ok(refused.decision.retryAfterSeconds >= 29 && refused.decision.retryAfterSeconds <= 30, `retry after ${refused.decision.retryAfterSeconds}`);
    assert.equal(await queue.get(id), null, 'no envelope');
    const render = await queue.renderJob(admitted[0].id);
    assert.ok(render, "the admitted jobs are in their model's render queue");
    const waiting = await redis.lrange(`${render.queueQualifiedName}:wait`, 0, -1);
    assert.deepEqual(waiting.sort(), admitted.map((e) => e.id).sort(), 'BullMQ added only the admitted jobs');
    assert.equal((await queue.list('alice', { limit: 10, offset: 0 })).total, 2);
    // all or nothing: the refused submission spent no request either (10 per minute: 8 left, and 2 more refusals
    // below are answered here)
    await redis.del(queue.keys.rateLimit('submits', 'alice'));
    const known = limiter.plan('alice');
    assert.ok(known && 'refused' in known, 'the refusal holds here although Redis would now allow it');
    assert.equal(known.refused.refusedBy?.name, 'submits');
    assert.equal((await limiter.take('alice')).allowed, false, 'take answers from what it knows as well');
    assert.equal((await limiter.take('alice', ['requests'])).allowed, true, 'another budget is not refused by it');
  } finally {
    await queue.close();
  }
});
