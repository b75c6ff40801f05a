// Issue 19 defect 3, end to end: a worker process with a memory budget (WORKER_MEMORY_BYTES) renders the largest
// request its gateway accepts — the largest size (MAX_PIXELS), the most images (MAX_IMAGES_PER_REQUEST), the most
// prompt chunks (MAX_PROMPT_CHUNKS) and the most AND parts that fit — and its peak resident memory (VmHWM) stays under
// the budget; one AND part more is refused with 422 naming the prompt. Without sliced attention and batch splitting
// this request peaks above 1.5 GB on the tiny model (full score matrices over 4096 tokens, both images at once).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { estimatePeakBytes, parseByteSize } from '@farm/core';
import { readMemoryProfile } from '../packages/engine/src/models/memory-profile';
import { farmEnv, farmFixture, startGatewayProcess, startWorkerProcess, client, waitForWorkers } from './helpers/farm';

const fx = farmFixture();
const BUDGET = '1415M';
const SIZE = 512;

const peakBytes = (pid: number) => Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

test('a worker stays under its memory budget for the largest request the gateway accepts', async () => {
  const farm = farmEnv({
    redisUrl: fx.redis.url,
    modelsDir: fx.modelsDir,
    env: { WORKER_MEMORY_BYTES: BUDGET, MAX_PIXELS: String(SIZE * SIZE), MAX_IMAGES_PER_REQUEST: '2' },
  });
  const gateway = await startGatewayProcess(farm);
  const worker = startWorkerProcess(farm);
  fx.procs.push(gateway, worker);
  await waitForWorkers(gateway.url, 1, 180_000);
  const alice = client(gateway.url);
  // the most AND parts one image of this size fits with (each part is a UNet row beside the uncond row)
  const profile = readMemoryProfile(join(fx.modelsDir, 'tiny'));
  const fits = (parts: number) =>
    estimatePeakBytes(profile, { width: SIZE, height: SIZE, images: 1, rowsPerImage: parts + 1, chunks: 20, vaeImages: 1 }) <= parseByteSize(BUDGET)!;
  let parts = 1;
  while (fits(parts + 1)) parts++;
  assert.ok(parts >= 2 && parts < 10, `${parts} AND parts`);
  const chunks20 = 'a BREAK '.repeat(19) + 'a';
  const request = (n: number) => ({
    prompt: Array.from({ length: n }, () => chunks20).join(' AND '),
    negative_prompt: chunks20,
    width: SIZE,
    height: SIZE,
    batch_size: 2,
    steps: 1,
    sampler: 'Euler',
    cfg_scale: 7,
    seed: 3,
  });
  const refused = await alice.post('/v1/jobs', request(parts + 1));
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error.field, 'prompt');
  const tooLong = await alice.post('/v1/jobs', { ...request(1), negative_prompt: `${chunks20} BREAK a` });
  assert.equal(tooLong.status, 422);
  assert.equal(tooLong.body.error.field, 'negative_prompt');
  const accepted = await alice.post('/v1/jobs', request(parts));
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const job = await alice.waitForJob(accepted.body.id, undefined, 300_000);
  assert.equal(job.status, 'succeeded', job.error);
  assert.equal(job.output.images.length, 2);
  const peak = peakBytes(worker.child.pid!);
  console.log(`${parts} AND parts x 2 images at ${SIZE}x${SIZE}: worker peak ${(peak / 2 ** 20).toFixed(0)} MiB, budget ${BUDGET}`);
  assert.ok(peak < parseByteSize(BUDGET)!, `worker peak ${(peak / 2 ** 20).toFixed(0)} MiB over its ${BUDGET} budget`);
});
