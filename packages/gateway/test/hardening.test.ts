// Issue 19's defects on the real app (express + real auth + A1111 routes) over a real Redis and FarmQueue, no worker
// process: answers that were 500s, CSRF, login throttling, security headers, workers that are gone, lost jobs.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadConfig, type FarmConfig } from '@farm/core';
import { getSampler } from '@farm/engine/schedulers';
import { FarmQueue } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startRedis, type RedisServer } from '@farm/testkit';
import { createApp } from '../src/app';
import { createAuth, hashPassword } from '../src/auth';
import { parseUsers } from '../src/auth/auth';
import { a1111Router } from '../src/a1111';
import { openApiRouter } from '../src/openapi';

const PASSWORD = 'correct horse';
const users = `alice:${hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })},bob:${hashPassword('bob-pw', { N: 1024, r: 8, p: 1 })}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ALICE = basic('alice', PASSWORD);

interface Farm {
  queue: FarmQueue;
  server: Server;
  base: string;
  logged: string[];
  redis: RedisServer;
}
const farms: Farm[] = [];

async function startFarm(env: Record<string, string> = {}, redis?: RedisServer): Promise<Farm> {
  redis ??= await startRedis({ appendonly: false });
  const prefix = `hard${farms.length}`;
  const config: FarmConfig = loadConfig({ QUEUE_PREFIX: prefix, AUTH_USERS: users, RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_SUBMITS: '0', ...env });
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, maxQueuedPerUser: config.MAX_QUEUED_PER_USER });
  const storage = createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'gw-hard-')) });
  const catalog = async () => ({
    models: ['tiny'],
    loras: [],
    defaultModel: 'tiny',
    checkSampler(s: string, sch: string) {
      getSampler(s, sch);
    },
  });
  const logged: string[] = [];
  const { app } = createApp({
    config,
    queue,
    storage,
    catalog,
    auth: createAuth({ users: config.AUTH_USERS, apiKeys: config.AUTH_API_KEYS, disabled: false }),
    extraRouters: ({ metrics }) => [a1111Router({ config, queue, storage, catalog, metrics }), openApiRouter()],
    log: (msg, fields) => logged.push(`${msg} ${JSON.stringify(fields)}`),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const farm = { queue, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, logged, redis };
  farms.push(farm);
  return farm;
}

let farm: Farm;
beforeAll(async () => {
  farm = await startFarm({ MAX_QUEUED_PER_USER: '2' });
});
afterAll(async () => {
  for (const f of farms) {
    f.server.closeAllConnections();
    await new Promise((r) => f.server.close(r));
    f.queue.disconnect();
    await f.redis.stop().catch(() => {});
  }
});

/** fetch that fails the test instead of hanging, naming the request */
const call = (base: string, path: string, init: RequestInit & { auth?: string | null } = {}) => {
  const { auth = ALICE, ...rest } = init;
  return fetch(`${base}${path}`, {
    ...rest,
    headers: { ...(auth ? { authorization: auth } : {}), ...(rest.headers as Record<string, string> | undefined) },
    signal: AbortSignal.timeout(20_000),
  }).catch((e: Error) => {
    throw new Error(`${rest.method ?? 'GET'} ${path}: ${e.message}`, { cause: e });
  });
};
const postJson = (base: string, path: string, body: unknown, headers: Record<string, string> = {}, auth: string | null = ALICE) =>
  call(base, path, { method: 'POST', auth, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const fakeWorker = (queue: FarmQueue, id: string) => queue.registerWorker({ id, host: 'test', models: ['tiny'], loras: [], loadedModel: null, busy: false });

test('defect 7: bad list queries and script args are 422s naming the field, not 500s', async () => {
  for (const q of ['offset=1.5', 'limit=1.5', 'offset=1e300', 'offset=Infinity', 'offset=-1', 'limit=0', 'limit=abc', 'offset=1&offset=2']) {
    const res = await call(farm.base, `/v1/jobs?${q}`);
    assert.equal(res.status, 422, q);
    const body = (await res.json()) as { error: { field: string; message: string } };
    assert.equal(body.error.field, q.split('=')[0], q);
  }
  assert.equal((await call(farm.base, '/v1/jobs?limit=5&offset=0')).status, 200);
  for (const controlnet of [{ args: 'x' }, { args: { 0: {} } }, 'x']) {
    const res = await postJson(farm.base, '/sdapi/v1/txt2img', { prompt: 'a', width: 64, height: 64, alwayson_scripts: { controlnet } });
    assert.equal(res.status, 422, JSON.stringify(controlnet));
    const detail = ((await res.json()) as { detail: { loc: string[] }[] }).detail;
    assert.deepEqual(detail[0].loc.slice(0, 3), ['body', 'alwayson_scripts', 'controlnet']);
  }
  assert.deepEqual(farm.logged, [], 'nothing reached the 500 handler');
});

test('defect 8: /readyz is ready without workers and reports them; A1111 calls answer 503 naming the missing worker; POST /v1/jobs queues with a warning', async () => {
  const ready = await call(farm.base, '/readyz', { auth: null });
  assert.equal(ready.status, 200);
  assert.equal(((await ready.json()) as { workers: number }).workers, 0);
  const a1111 = await postJson(farm.base, '/sdapi/v1/txt2img', { prompt: 'a', width: 64, height: 64, steps: 2 });
  assert.equal(a1111.status, 503);
  assert.match(((await a1111.json()) as { detail: string }).detail, /no live worker/);
  const native = await postJson(farm.base, '/v1/jobs', { prompt: 'a', width: 64, height: 64, steps: 2 });
  assert.equal(native.status, 202);
  const job = (await native.json()) as { id: string; warnings: string[] };
  assert.match(job.warnings[0], /no live worker.*waits/);
  await call(farm.base, `/v1/jobs/${job.id}`, { method: 'DELETE' });
  // a worker without the model does not count
  await farm.queue.registerWorker({ id: 'w-other', host: 'test', models: ['other'], loras: [], loadedModel: null, busy: false });
  const other = await postJson(farm.base, '/sdapi/v1/txt2img', { prompt: 'a', width: 64, height: 64, steps: 2 });
  assert.equal(other.status, 503);
  assert.match(((await other.json()) as { detail: string }).detail, /no live worker has the model "tiny".*other/);
  // the model list says how many live workers can run each model (the web page's banner reads it)
  const models = async () => ((await (await call(farm.base, '/v1/models')).json()) as { workers: Record<string, number> }).workers;
  assert.deepEqual(await models(), { tiny: 0 });
  await fakeWorker(farm.queue, 'w-tiny');
  assert.deepEqual(await models(), { tiny: 1 });
  await farm.queue.unregisterWorker('w-tiny');
  await farm.queue.unregisterWorker('w-other');
});

test('defect 9: a worker silent for minutes is dropped from the workers hash', async () => {
  const key = farm.queue.keys.workers;
  await farm.queue.redis.hset(
    key,
    'ghost',
    JSON.stringify({ id: 'ghost', host: 'h', models: ['tiny'], loras: [], loadedModel: null, busy: false, lastSeen: Date.now() - 3600_000 }),
  );
  await fakeWorker(farm.queue, 'alive');
  assert.deepEqual(
    (await farm.queue.workers()).map((w) => w.id),
    ['alive'],
  );
  assert.equal(await farm.queue.redis.hexists(key, 'ghost'), 0);
  await farm.queue.unregisterWorker('alive');
});

test('issue 15 item 7: an A1111 call whose job is lost ends with a clear 503; a client that leaves is not an error', async () => {
  await fakeWorker(farm.queue, 'w-lost');
  const pending = postJson(farm.base, '/sdapi/v1/txt2img', { prompt: 'lost', width: 64, height: 64, steps: 2 });
  const current = farm.queue.keys.a1111Calls('alice');
  const [id] = await waitUntil(async () => {
    const ids = await farm.queue.redis.lrange(current, 0, -1);
    return ids.length ? ids : null;
  });
  await farm.queue.redis.del(farm.queue.keys.job(id));
  const res = await pending;
  assert.equal(res.status, 503);
  assert.match(((await res.json()) as { detail: string }).detail, new RegExp(`job ${id} was lost`));

  const leaving = new AbortController();
  const gone = fetch(`${farm.base}/sdapi/v1/txt2img`, {
    method: 'POST',
    signal: leaving.signal,
    headers: { authorization: ALICE, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'bye', width: 64, height: 64, steps: 2 }),
  });
  await waitUntil(async () => (await farm.queue.redis.llen(current)) > 0);
  leaving.abort();
  await assert.rejects(gone);
  await waitUntil(async () => (await farm.queue.redis.llen(current)) === 0);
  await farm.queue.unregisterWorker('w-lost');
  assert.deepEqual(farm.logged, [], 'the disconnect was not logged as an error');
});

test('defect 9: A1111 too_many_jobs carries Retry-After', async () => {
  await fakeWorker(farm.queue, 'w-cap');
  const ids: string[] = [];
  for (let i = 0; i < 2; i++)
    ids.push(((await (await postJson(farm.base, '/v1/jobs', { prompt: 'cap', width: 64, height: 64, steps: 2 })).json()) as { id: string }).id);
  const res = await postJson(farm.base, '/sdapi/v1/txt2img', { prompt: 'over', width: 64, height: 64, steps: 2 });
  assert.equal(res.status, 429);
  assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
  for (const id of ids) await call(farm.base, `/v1/jobs/${id}`, { method: 'DELETE' });
  await farm.queue.unregisterWorker('w-cap');
});

test('defect 6: cross-site and non-JSON state changes are refused; same-origin JSON passes', async () => {
  const evil = await call(farm.base, '/sdapi/v1/interrupt', {
    method: 'POST',
    headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a=1',
  });
  assert.equal(evil.status, 403);
  const evilEmpty = await call(farm.base, '/sdapi/v1/interrupt', { method: 'POST', headers: { origin: 'http://evil.example' } });
  assert.equal(evilEmpty.status, 403);
  const fetchSite = await call(farm.base, '/v1/jobs', {
    method: 'POST',
    headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
    body: '{"prompt":"x"}',
  });
  assert.equal(fetchSite.status, 403);
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']) {
    const res = await call(farm.base, '/sdapi/v1/interrupt', { method: 'POST', headers: { 'content-type': type }, body: '{}' });
    assert.equal(res.status, 415, type);
    assert.match(((await res.json()) as { detail: string }).detail, /JSON/);
  }
  assert.equal((await call(farm.base, '/sdapi/v1/interrupt', { method: 'POST', headers: { origin: farm.base } })).status, 200, 'same origin, no body');
  assert.equal((await postJson(farm.base, '/sdapi/v1/interrupt', {}, { origin: farm.base })).status, 200, 'same origin, JSON');
  assert.equal((await postJson(farm.base, '/sdapi/v1/interrupt', {})).status, 200, 'no Origin (not a browser)');
});

test('defect 9: security headers on pages, no-store on job JSON', async () => {
  for (const path of ['/', '/docs']) {
    const res = await call(farm.base, path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/, path);
  }
  const job = (await (await postJson(farm.base, '/v1/jobs', { prompt: 'x', width: 64, height: 64, steps: 2 })).json()) as { id: string };
  const got = await call(farm.base, `/v1/jobs/${job.id}`);
  assert.equal(got.headers.get('cache-control'), 'no-store');
  await call(farm.base, `/v1/jobs/${job.id}`, { method: 'DELETE' });
});

test('defect 9: malformed Authorization headers are refused without counting as failed logins; AUTH_USERS errors do not echo entries', async () => {
  const key = 'k3y-for-bob';
  const { createHash } = await import('node:crypto');
  const f = await startFarm({ AUTH_API_KEYS: `${createHash('sha256').update(key).digest('hex')}:bob` });
  assert.equal((await call(f.base, '/v1/models', { auth: `Bearer ${key}` })).status, 200);
  assert.equal((await call(f.base, '/v1/models', { auth: `Bearer ${key} junk` })).status, 401);
  for (let i = 0; i < 8; i++) assert.equal((await call(f.base, '/v1/models', { auth: 'Basic  x' })).status, 401);
  assert.equal((await call(f.base, '/v1/models', { auth: basic('alice', 'wrong') })).status, 401, 'the malformed ones did not count');
  assert.throws(
    () => parseUsers('alice:hunter2'),
    (e: Error) => !e.message.includes('hunter2') && /entry 1/.test(e.message),
  );
});

test('defect 5: throttled wrong passwords, but never a locked-out right one; X-Forwarded-For only from TRUST_PROXY', async () => {
  const f = await startFarm();
  for (let i = 0; i < 5; i++) assert.equal((await call(f.base, '/v1/models', { auth: basic('alice', `guess${i}`) })).status, 401);
  const throttled = await call(f.base, '/v1/models', { auth: basic('alice', 'guess5'), headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(throttled.status, 429, 'a forged X-Forwarded-For does not escape the throttle');
  assert.match(throttled.headers.get('retry-after') ?? '', /^\d+$/);
  assert.equal((await call(f.base, '/v1/models', { auth: basic('bob', 'guess') })).status, 429, 'throttled by address, whatever the user');
  assert.equal((await call(f.base, '/v1/models', { auth: ALICE })).status, 200, 'the right password still logs in');

  const proxied = await startFarm({ TRUST_PROXY: 'loopback' });
  const from = (ip: string, auth: string) => call(proxied.base, '/v1/models', { auth, headers: { 'x-forwarded-for': ip } });
  for (let i = 0; i < 5; i++) assert.equal((await from('198.51.100.7', basic('alice', `g${i}`))).status, 401);
  assert.equal((await from('198.51.100.7', basic('alice', 'g5'))).status, 429);
  assert.equal((await from('198.51.100.8', basic('alice', 'g6'))).status, 401, 'another client behind the trusted proxy is not throttled');
});

test('defects 7 and 8: with Redis down every route that needs it answers 503 saying so, at once', async () => {
  const f = await startFarm();
  await fakeWorker(f.queue, 'w-down');
  await f.redis.kill();
  const cases: [string, string, unknown?][] = [
    ['POST', '/v1/jobs', { prompt: 'x', width: 64, height: 64, steps: 2 }],
    ['GET', '/v1/jobs'],
    ['POST', '/sdapi/v1/txt2img', { prompt: 'x', width: 64, height: 64, steps: 2 }],
    ['GET', '/sdapi/v1/progress'],
    ['POST', '/sdapi/v1/interrupt', {}],
    ['GET', '/sdapi/v1/options'],
    ['POST', '/sdapi/v1/options', { sd_model_checkpoint: 'tiny' }],
  ];
  for (const [method, path, body] of cases) {
    const res =
      body === undefined
        ? await call(f.base, path, { method })
        : await call(f.base, path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    assert.equal(res.status, 503, `${method} ${path}: ${text}`);
    assert.match(text, /Redis/, `${method} ${path}`);
  }
  assert.equal((await call(f.base, '/readyz', { auth: null })).status, 503);
  assert.deepEqual(f.logged, []);
});

/** The event loop's utilisation (busy fraction, 0..1) while `work` runs: a ratio, whatever the machine's speed. */
async function loopBusyDuring(work: () => Promise<unknown>): Promise<number> {
  const start = performance.eventLoopUtilization();
  await work();
  return performance.eventLoopUtilization(start).utilization;
}

test('defect 4: /controlnet/detect runs off the event loop and caps count and resolution', async () => {
  const png = (
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 40, b: 40 } } })
      .png()
      .toBuffer()
  ).toString('base64');
  const detect = (images: string[], res: number) =>
    postJson(farm.base, '/controlnet/detect', { controlnet_module: 'canny', controlnet_input_images: images, controlnet_processor_res: res });
  let answer: Response | undefined;
  const busy = await loopBusyDuring(async () => {
    answer = await detect([png, png], 1024);
  });
  assert.equal(answer!.status, 200);
  const maps = ((await answer!.json()) as { images: string[] }).images;
  assert.equal(maps.length, 2);
  assert.equal((await sharp(Buffer.from(maps[0], 'base64')).metadata()).width, 1024);
  assert.ok(busy < 0.5, `the event loop was busy ${Math.round(busy * 100)}% of the call`);
  const tooMany = await detect(Array(9).fill(png), 512);
  assert.equal(tooMany.status, 422);
  assert.match(JSON.stringify(await tooMany.json()), /at most 8 images/);
});

test('defect 4: password hashing runs off the event loop', async () => {
  const slowUsers = `carol:${hashPassword('carol-pw')}`; // the default cost (N = 16384)
  const f = await startFarm({ AUTH_USERS: slowUsers });
  const busy = await loopBusyDuring(() => Promise.all(Array.from({ length: 8 }, (_, i) => call(f.base, '/v1/models', { auth: basic('carol', `wrong${i}`) }))));
  assert.ok(busy < 0.5, `the event loop was busy ${Math.round(busy * 100)}% while 8 logins were checked`);
  assert.equal((await call(f.base, '/v1/models', { auth: basic('carol', 'carol-pw') })).status, 200);
});

async function waitUntil<T>(probe: () => Promise<T | null | false | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition never came true');
}
