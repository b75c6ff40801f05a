// A submission's request id (the caller's X-Request-Id, or one the gateway makes) travels with its job, so the
// worker's log lines for the job can be joined to the gateway's access-log line.
import { test, onTestFinished } from 'vitest';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@farm/core';
import { getSampler } from '@farm/engine/schedulers';
import { FarmQueue } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startRedis } from '@farm/testkit';
import { createApp } from '../src/app';
import { createAuth } from '../src/auth';

test('the job carries the X-Request-Id of its submission; a generated id when none (or an unsafe one) was sent', async () => {
  const redis = await startRedis({ appendonly: false });
  const config = loadConfig({ QUEUE_PREFIX: 'reqid', AUTH_DISABLED: 'true' });
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: 'reqid' });
  const catalog = async () => ({
    models: ['tiny'],
    loras: [],
    defaultModel: 'tiny',
    checkSampler(s: string, sch: string) {
      getSampler(s, sch);
    },
  });
  const { app } = createApp({
    config,
    queue,
    storage: createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'reqid-')) }),
    catalog,
    auth: createAuth({ users: '', apiKeys: '', disabled: true }),
  });
  const server = app.listen(0, '127.0.0.1');
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    queue.disconnect();
    await redis.stop();
  });
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const submit = (headers: Record<string, string>) =>
    fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ prompt: 'x', width: 64, height: 64, steps: 2 }),
    });

  const given = await submit({ 'x-request-id': 'trace-42' });
  assert.equal(given.status, 202);
  const job = (await given.json()) as { id: string; request_id?: string };
  assert.equal(job.request_id, 'trace-42');
  assert.equal((await queue.get(job.id))?.request_id, 'trace-42', 'stored on the envelope the worker reads');

  const unsafe = await submit({ 'x-request-id': 'has spaces' });
  const made = unsafe.headers.get('x-request-id')!;
  assert.match(made, /^[0-9a-f-]{36}$/);
  assert.equal(((await unsafe.json()) as { request_id?: string }).request_id, made);
});
