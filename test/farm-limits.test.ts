// Per-user limits and the queue cap through HTTP, with two gateways sharing one Redis: over a limit answers 429 with
// Retry-After (or 503 for the whole queue), says which limit, and queues nothing.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { FarmKeys } from '@farm/queue';
import { farmEnv, startGatewayProcess, client, farmFixture } from './helpers/farm';

const fx = farmFixture();
const small = { prompt: 'a quiet bay', width: 64, height: 64, steps: 3 };

async function gateways(count: number, env: Record<string, string>) {
  const farm = farmEnv({ redisUrl: fx.redis.url, modelsDir: fx.modelsDir, env });
  const started = await Promise.all(Array.from({ length: count }, () => startGatewayProcess(farm)));
  fx.procs.push(...started);
  return Object.assign(started, { keys: new FarmKeys(farm.env.QUEUE_PREFIX!) });
}

test('submission and request budgets: 429 with Retry-After, shared by every gateway, per user, nothing queued', async () => {
  const [g1, g2] = await gateways(2, { RATE_LIMIT_SUBMITS: '3', RATE_LIMIT_REQUESTS: '12' });
  const alice1 = client(g1.url);
  const alice2 = client(g2.url);
  assert.equal((await alice1.post('/v1/jobs', small)).status, 202);
  assert.equal((await alice2.post('/v1/jobs', small)).status, 202);
  assert.equal((await alice1.post('/v1/jobs', small)).status, 202);
  const over = await alice2.post('/v1/jobs', small);
  assert.equal(over.status, 429);
  assert.match(over.body.error.message, /3 per minute per user \(RATE_LIMIT_SUBMITS\)/);
  const retryAfter = Number(over.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 20, `Retry-After ${over.headers.get('retry-after')}`);
  // the limiter's verdict is awaited by the route after the body is checked: a refusal still wins over a bad body,
  // and submit-and-stream is refused the same way
  const badAndOver = await alice1.post('/v1/jobs', { ...small, width: 13 });
  assert.equal(badAndOver.status, 429, 'over budget with a bad body: the refusal wins');
  assert.match(badAndOver.body.error.message, /RATE_LIMIT_SUBMITS/);
  const streamOver = await alice2.post('/v1/jobs/stream', small);
  assert.equal(streamOver.status, 429);
  assert.match(streamOver.body.error.message, /RATE_LIMIT_SUBMITS/);
  assert.ok(Number(streamOver.headers.get('retry-after')) >= 1);
  const a1111 = await alice1.post('/sdapi/v1/txt2img', { prompt: 'x', width: 64, height: 64, steps: 3 });
  assert.equal(a1111.status, 429, 'A1111 submissions spend from the same budget');
  assert.match(a1111.body.detail, /RATE_LIMIT_SUBMITS/);
  assert.equal((await alice1.get('/v1/jobs')).body.total, 3, 'refused submissions queued nothing');
  assert.equal((await client(g2.url, 'bob').post('/v1/jobs', small)).status, 202, 'bob has a budget of his own');

  let refused: Awaited<ReturnType<typeof alice1.get>> | null = null;
  for (let i = 0; i < 20 && !refused; i++) {
    const r = await (i % 2 ? alice1 : alice2).get('/v1/models');
    if (r.status === 429) refused = r;
    else assert.equal(r.status, 200);
  }
  assert.ok(refused, 'the request budget of 12 per minute ran out within 20 more requests');
  const badWithin = await client(g2.url, 'bob').post('/v1/jobs', { ...small, width: 13 });
  assert.equal(badWithin.status, 422, 'within budget, a bad body is answered as such');
  assert.match(refused.body.error.message, /12 per minute per user \(RATE_LIMIT_REQUESTS\)/);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.equal((await client(g1.url, 'bob').get('/v1/models')).status, 200);
  assert.equal((await fetch(`${g1.url}/healthz`)).status, 200, 'health checks are not behind login or limits');
});

test('per-user cap of unfinished jobs (429) and the queue cap (503)', async () => {
  const [g] = await gateways(1, { MAX_QUEUED_PER_USER: '2', MAX_QUEUED: '3' });
  const alice = client(g.url);
  const bob = client(g.url, 'bob');
  const first = await alice.post('/v1/jobs', small);
  assert.equal(first.status, 202);
  assert.equal((await alice.post('/v1/jobs', small)).status, 202);
  const capped = await alice.post('/v1/jobs', small);
  assert.equal(capped.status, 429);
  assert.equal(capped.body.error.code, 'too_many_jobs');
  assert.match(capped.body.error.message, /2 jobs queued or running/);
  assert.ok(Number(capped.headers.get('retry-after')) >= 1);
  // With no live worker an A1111 call (which waits for its images) is a 503 before any cap is looked at; its 429 at
  // the cap, with a worker alive, is in packages/gateway/test/hardening.test.ts.
  const noWorker = await alice.post('/sdapi/v1/txt2img', { prompt: 'x', width: 64, height: 64, steps: 3 });
  assert.equal(noWorker.status, 503);
  assert.match(noWorker.body.detail, /no live worker/);
  assert.equal((await alice.get('/v1/jobs')).body.total, 2);

  assert.equal((await bob.post('/v1/jobs', small)).status, 202);
  const full = await bob.post('/v1/jobs', small);
  assert.equal(full.status, 503);
  assert.equal(full.body.error.code, 'queue_full');
  assert.match(full.body.error.message, /queue is full \(3 jobs waiting\)/);
  assert.equal((await bob.get('/v1/jobs')).body.total, 1);

  assert.equal((await alice.del(`/v1/jobs/${first.body.id}`)).body.status, 'canceled');
  assert.equal((await alice.post('/v1/jobs', small)).status, 202, 'a finished job frees its place under both caps');
});

test('a native submission spends its budgets in the script that queues it; a refusal the gateway knows of costs no Redis command', async () => {
  const farm = await gateways(1, { RATE_LIMIT_SUBMITS: '2', RATE_LIMIT_REQUESTS: '100' });
  const alice = client(farm[0].url);
  const monitor = await new Redis(fx.redis.url).monitor();
  const marker = new Redis(fx.redis.url);
  const ran: string[][] = [];
  let heard: (() => void) | null = null;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    // the commands clients sent, not those their scripts ran
    if (source !== 'lua') ran.push(args);
    heard?.();
  });
  /** the commands Redis ran for one call (every one before the call answered; ECHO marks the end, as MONITOR reports in order) */
  const commandsOf = async <T>(call: () => Promise<T>): Promise<[T, string[][]]> => {
    ran.length = 0;
    const result = await call();
    const mark = `end-${Math.random()}`;
    await marker.echo(mark);
    while (!ran.some((a) => a[0] === 'echo' && a[1] === mark)) await new Promise<void>((r) => (heard = r));
    return [result, ran.slice()];
  };
  const budgetKey = farm.keys.rateLimit('submits', 'alice');
  try {
    for (let i = 0; i < 2; i++) {
      const [res, commands] = await commandsOf(() => alice.post('/v1/jobs', small));
      assert.equal(res.status, 202);
      const spending = commands.filter((a) => a.includes(budgetKey));
      assert.equal(spending.length, 1, `one command spends the budget: ${JSON.stringify(spending.map((a) => a.slice(0, 4)))}`);
      assert.ok(
        /^eval(sha)?$/i.test(spending[0][0]) && spending[0][3] === farm.keys.job(res.body.id),
        `and it is the admit of the job: ${JSON.stringify(spending[0].slice(0, 4))}`,
      );
    }
    const [over, atAdmit] = await commandsOf(() => alice.post('/v1/jobs/stream', small));
    assert.equal(over.status, 429);
    assert.match(over.body.error.message, /RATE_LIMIT_SUBMITS/);
    const refusing = atAdmit.filter((a) => a.includes(budgetKey));
    assert.equal(refusing.length, 1, `refused by the admit: ${JSON.stringify(refusing.map((a) => a.slice(0, 4)))}`);
    const [again, known] = await commandsOf(() => alice.post('/v1/jobs', small));
    assert.equal(again.status, 429);
    assert.ok(Number(again.headers.get('retry-after')) >= 1);
    assert.deepEqual(
      known.filter((a) => a.some((x) => x.includes(':rl:'))),
      [],
      'answered from the refusal this gateway saw',
    );
    assert.equal((await alice.get('/v1/jobs')).body.total, 2, 'nothing more was queued');
  } finally {
    monitor.disconnect();
    marker.disconnect();
  }
});
