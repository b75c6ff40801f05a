// Issue 19 defect 3 at the gateway: a request that no live worker has the memory for is refused with 422 naming the
// field (native and A1111), nothing queued; prompts over MAX_PROMPT_CHUNKS are refused naming the prompt. Real app,
// real Redis and FarmQueue; workers are heartbeats as a worker writes them (budget and the tiny model's profile).
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { estimatePeakBytes, loadConfig, type ModelMemoryProfile } from '@farm/core';
import { FarmQueue } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startRedis, type RedisServer } from '@farm/testkit';
import { createApp } from '../src/app';
import { createAuth } from '../src/auth';
import { a1111Router } from '../src/a1111';
import { createCatalog } from '../src/catalog';

// the tiny model's profile as its worker reports it (32 UNet channels, 2 heads, 16 VAE channels, sliced attention)
const tiny: ModelMemoryProfile = { weightsBytes: 5_000_000, unetChannels: 32, unetHeads: 2, vaeChannels: 16, attentionSlice: 1 << 24 };
// a budget that holds one 512x512 image and not one 1024x1024 image
const budget = estimatePeakBytes(tiny, { width: 512, height: 512, images: 1, rowsPerImage: 2, chunks: 1, vaeImages: 1 });

let redis: RedisServer;
let queue: FarmQueue;
let server: Server;
let base: string;

beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
  const config = loadConfig({ QUEUE_PREFIX: 'memadm', AUTH_DISABLED: 'true', RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_SUBMITS: '0' });
  queue = new FarmQueue({ redisUrl: redis.url, prefix: 'memadm' });
  const storage = createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'gw-mem-')) });
  const catalog = createCatalog(queue, { defaultModel: 'tiny' });
  const { app } = createApp({
    config,
    queue,
    storage,
    catalog,
    auth: createAuth({ users: '', apiKeys: '', disabled: true }),
    extraRouters: ({ metrics }) => [a1111Router({ config, queue, storage, catalog, metrics })],
  });
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

const worker = (id: string, memoryBudget?: number) =>
  queue.registerWorker({
    id,
    host: 'test',
    models: ['tiny'],
    loras: [],
    loadedModel: null,
    busy: false,
    ...(memoryBudget ? { memoryBudget, memory: { tiny } } : {}),
  });
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: { field?: string; message: string }; detail?: { loc: string[]; msg: string }[] | string; id?: string },
  };
};
const queued = async () => (await queue.counts()).waiting ?? 0;

test('a size no live worker has the memory for is refused with 422 naming width, on both APIs; nothing is queued', async () => {
  await worker('small', budget);
  try {
    const before = await queued();
    const native = await post('/v1/jobs', { prompt: 'a', width: 1024, height: 1024, steps: 2 });
    assert.equal(native.status, 422);
    assert.equal(native.body.error?.field, 'width');
    assert.match(native.body.error!.message, /1024x1024.*MiB.*memory budget/);
    const a1111 = await post('/sdapi/v1/txt2img', { prompt: 'a', width: 1024, height: 1024, steps: 2 });
    assert.equal(a1111.status, 422);
    assert.deepEqual((a1111.body.detail as { loc: string[] }[])[0].loc, ['body', 'width']);
    // hires fix runs at its target size: 512x512 upscaled 2x needs what 1024x1024 needs
    const hires = await post('/sdapi/v1/txt2img', { prompt: 'a', width: 512, height: 512, steps: 2, enable_hr: true, hr_scale: 2, hr_upscaler: 'Latent' });
    assert.equal(hires.status, 422);
    // composable parts are UNet rows of one image: the prompt is named
    const parts = await post('/v1/jobs', { prompt: 'a AND '.repeat(400) + 'a', width: 512, height: 512, steps: 2 });
    assert.equal(parts.status, 422);
    assert.equal(parts.body.error?.field, 'prompt');
    assert.equal(await queued(), before);
    // one image of 512x512 fits, so a batch of 4 is accepted: the worker splits it
    const fits = await post('/v1/jobs', { prompt: 'a', width: 512, height: 512, steps: 2, batch_size: 4 });
    assert.equal(fits.status, 202);
    await fetch(`${base}/v1/jobs/${fits.body.id}`, { method: 'DELETE' });
    // a second worker with the memory for it: accepted
    await worker('large', budget * 8);
    assert.equal((await post('/v1/jobs', { prompt: 'a', width: 1024, height: 1024, steps: 2 })).status, 202);
  } finally {
    await queue.unregisterWorker('small');
    await queue.unregisterWorker('large');
  }
});

test('without workers that report memory, sizes within MAX_PIXELS are queued (the worker checks again)', async () => {
  await worker('old');
  try {
    const res = await post('/v1/jobs', { prompt: 'a', width: 1024, height: 1024, steps: 2 });
    assert.equal(res.status, 202);
    await fetch(`${base}/v1/jobs/${res.body.id}`, { method: 'DELETE' });
  } finally {
    await queue.unregisterWorker('old');
  }
});

test('a prompt over MAX_PROMPT_CHUNKS (20) is refused naming it: BREAKs and 75-word chunks count', async () => {
  const breaks = await post('/v1/jobs', { prompt: 'BREAK '.repeat(16_000), width: 64, height: 64, steps: 2 });
  assert.equal(breaks.status, 422);
  assert.equal(breaks.body.error?.field, 'prompt');
  const words = await post('/sdapi/v1/txt2img', { prompt: 'a', negative_prompt: 'word '.repeat(75 * 21), width: 64, height: 64, steps: 2 });
  assert.equal(words.status, 422);
  assert.deepEqual((words.body.detail as { loc: string[] }[])[0].loc, ['body', 'negative_prompt']);
  // 20 chunks are allowed
  await worker('any');
  try {
    const twenty = await post('/v1/jobs', { prompt: 'a BREAK '.repeat(19) + 'a', width: 64, height: 64, steps: 2 });
    assert.equal(twenty.status, 202, JSON.stringify(twenty.body));
    await fetch(`${base}/v1/jobs/${twenty.body.id}`, { method: 'DELETE' });
  } finally {
    await queue.unregisterWorker('any');
  }
});
