// The express app on a real Redis and FarmQueue with fs storage, no worker: submission, validation,
// ownership, cancel, SSE of a canceled job, /healthz, /readyz and /metrics.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { RequestHandler } from 'express';
import { loadConfig } from '@farm/core';
import { getSampler } from '@farm/engine/schedulers';
import { FarmQueue } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startRedis, type RedisServer } from '@farm/testkit';
import { createApp } from '../src/app';

let redis: RedisServer;
let queue: FarmQueue;
let server: Server;
let base: string;

// The header names the user, so one test can act as two users.
const headerAuth: RequestHandler = (req, _res, next) => {
  req.user = { id: String(req.headers['x-test-user'] ?? 'alice') };
  next();
};

beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
  const config = loadConfig({ QUEUE_PREFIX: 'gwtest', WEBHOOK_ALLOW_PRIVATE: 'true', MAX_STEPS: '50' });
  queue = new FarmQueue({ redisUrl: redis.url, prefix: 'gwtest' });
  const storage = createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'gw-store-')) });
  const catalog = async () => ({
    models: ['tiny'],
    loras: [],
    defaultModel: 'tiny',
    checkSampler(s: string, sch: string) {
      getSampler(s, sch);
    },
  });
  const { app } = createApp({ config, queue, storage, auth: headerAuth, catalog });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await queue.close();
  await redis.stop();
});

const post = (body: unknown, user = 'alice') =>
  fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-user': user },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

test('/healthz answers; /readyz is ready while no worker is alive and says so', async () => {
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  const body = (await ready.json()) as { workers: number; warning: string };
  assert.equal(body.workers, 0);
  assert.match(body.warning, /no live worker/);
});

test('invalid bodies get 4xx naming the field and queue nothing', async () => {
  const before = await queue.counts();
  const cases: [unknown, string][] = [
    [{ prompt: 'x', width: 100 }, 'width'],
    [{ prompt: 'x', steps: 51 }, 'steps'],
    [{ prompt: 'x', sampler: 'Nope' }, ''],
    [{ prompt: 'x', model: 'missing' }, ''],
    [{ prompt: 'x', webhook: 'ftp://example.com/h' }, 'webhook'],
  ];
  for (const [body, field] of cases) {
    const res = await post(body);
    assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(body)} -> ${res.status}`);
    const err = ((await res.json()) as { error: { code: string; message: string; field?: string } }).error;
    assert.ok(err.message.length > 0);
    if (field) assert.equal(err.field, field, JSON.stringify(err));
  }
  const malformed = await post('{"prompt": ');
  assert.equal(malformed.status, 400);
  assert.ok(((await malformed.json()) as { error: { message: string } }).error.message.length > 0);
  assert.deepEqual(await queue.counts(), before);
});

test('submit -> 202 with links; the owner reads it, another user gets 404; cancel while queued', async () => {
  const res = await post({ prompt: 'a red fox', width: 64, height: 64, steps: 2, seed: 7 });
  assert.equal(res.status, 202);
  const job = (await res.json()) as { id: string; status: string; links: { self: string; events: string }; input: { seed: number } };
  assert.equal(job.status, 'queued');
  assert.equal(job.input.seed, 7);
  assert.equal(job.links.self, `/v1/jobs/${job.id}`);
  assert.equal((await fetch(`${base}${job.links.self}`)).status, 200);
  assert.equal((await fetch(`${base}${job.links.self}`, { headers: { 'x-test-user': 'mallory' } })).status, 404);
  assert.equal((await fetch(`${base}${job.links.self}`, { method: 'DELETE', headers: { 'x-test-user': 'mallory' } })).status, 404);

  const list = (await (await fetch(`${base}/v1/jobs?limit=5`)).json()) as { jobs: { id: string }[]; total: number };
  assert.ok(list.jobs.some((j) => j.id === job.id));
  const other = (await (await fetch(`${base}/v1/jobs`, { headers: { 'x-test-user': 'mallory' } })).json()) as { total: number };
  assert.equal(other.total, 0);

  const canceled = await fetch(`${base}${job.links.self}`, { method: 'DELETE' });
  assert.ok(canceled.status === 200 || canceled.status === 202);
  assert.equal(((await canceled.json()) as { status: string }).status, 'canceled');

  // The SSE stream of a finished job sends its envelope at once and ends.
  const sse = await fetch(`${base}${job.links.events}`);
  assert.equal(sse.headers.get('content-type'), 'text/event-stream');
  const text = await sse.text();
  assert.match(text, /^event: status\ndata: /m);
  assert.match(text, /"status":"canceled"/);
});

test("/metrics exposes the gateway's metric names and the standard process metrics (job outcomes are the workers')", async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  for (const name of [
    'farm_jobs_submitted_total',
    'farm_queue_jobs',
    'farm_workers_live',
    'process_cpu_user_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
  ]) {
    assert.ok(text.includes(name), name);
  }
  for (const name of ['farm_jobs_finished_total', 'farm_gateway_process']) assert.ok(!text.includes(name), `${name} belongs to workers, or is renamed`);
  assert.match(text, /farm_jobs_submitted_total \d/);
});
