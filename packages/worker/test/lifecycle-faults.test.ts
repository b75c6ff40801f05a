// The job life cycle through a real worker when something breaks in the middle: the webhook cannot be queued after
// the result is written; the worker dies between storing images and recording the result; a job reaches a worker
// already finished. Each ends with exactly one result and exactly one webhook per event. And the error taxonomy:
// deterministic bad input (a plain Error or a BadInputError) is not retried.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FarmQueue, RenderWorker, createWebhookWorker, type RenderEngine } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { Engine } from '@farm/engine';
import { startRedis, ensureTinyModel } from '@farm/testkit';
import { startWorker } from '../src/index';
import { tinyParams, until, terminal } from './job-helpers';

const redis = await startRedis();
const { modelsDir } = await ensureTinyModel();
afterAll(() => redis.stop());

const base = tinyParams({ prompt: 'a quay', sampler: 'Euler', steps: 2, seed: 11 });
const newPrefix = () => `c${randomUUID().slice(0, 8)}`;
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `farm-${name}-`));

/** Polls a condition (Redis state that has no event of its own) until it holds. */
async function eventually<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A farm's webhook worker whose receiver records each delivery's id; `settled` waits for the render job and its webhooks. */
function webhookReceiver(queue: FarmQueue, prefix: string) {
  const sent: string[] = [];
  const worker = createWebhookWorker({
    redisUrl: redis.url,
    prefix,
    lifecycle: queue.lifecycle,
    send: async (d) => {
      sent.push(d.deliveryId);
      return { status: 204 };
    },
  });
  return {
    sent,
    async settled(id: string): Promise<string[]> {
      await eventually('the render job to complete in BullMQ', async () => (await (await queue.renderJob(id))?.getState()) === 'completed');
      await eventually('every webhook to be delivered', async () => {
        const c = await queue.webhooks.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(c).every((n) => n === 0);
      });
      return [...sent].sort();
    },
    close: () => worker.close(),
  };
}

test('the webhook cannot be queued after "succeeded" is written: the job is completed on a rerun, not rendered again; one webhook', async () => {
  const prefix = newPrefix();
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, attempts: 2 });
  const hooks = webhookReceiver(queue, prefix);
  const dir = tmp('hook-fault');
  let signal!: () => void;
  const finishedButNotCompleted = new Promise<void>((r) => {
    signal = r;
  });
  // The fault, for real: the webhook queue's id counter holds text, so BullMQ's add script fails at its first command
  // (INCR: not an integer) and writes nothing, as when Redis refuses a write.
  await queue.redis.set(queue.webhooks.keys.id, 'not a number');
  const worker = await startWorker({
    redisUrl: redis.url,
    prefix,
    modelsDir,
    storage: createStorage({ kind: 'fs', dir }),
    maxBatch: 1,
    maxPixels: 1 << 20,
    maxSteps: 50,
    log: (msg) => {
      if (/finished but not completed/.test(msg)) signal();
    },
  });
  try {
    const job = await queue.submit(base, { owner: 'alice', webhook: { url: 'http://hooks.example/', events: ['completed'] } });
    await finishedButNotCompleted;
    const written = (await queue.get(job.id))!;
    assert.equal(written.status, 'succeeded', 'the result was written before the webhook failed');
    await queue.redis.del(queue.webhooks.keys.id); // repaired
    assert.deepEqual(await hooks.settled(job.id), [`${job.id}:completed:end`], 'exactly one completion webhook');
    const end = (await queue.get(job.id))!;
    assert.equal(end.attempts, 1, 'not rendered again');
    assert.deepEqual(end.output, written.output, 'the result is the one first written');
    assert.deepEqual(readdirSync(join(dir, 'images', job.id)), ['0.png']);
  } finally {
    await worker.close();
    await hooks.close();
    await queue.close();
  }
});

test('the worker dies between storing the images and recording the result: another reruns it; one result, one webhook per event', async () => {
  const prefix = newPrefix();
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, attempts: 3 });
  const hooks = webhookReceiver(queue, prefix);
  const dir = tmp('die-after-store');
  const job = await queue.submit(base, { owner: 'alice', webhook: { url: 'http://hooks.example/', events: ['start', 'completed'] } });
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/die-after-store.ts'), redis.url, prefix, modelsDir, dir], {
    stdio: 'inherit',
  });
  const [, signal] = await once(child, 'exit');
  assert.equal(signal, 'SIGKILL');
  const orphan = (await queue.get(job.id))!;
  assert.equal(orphan.status, 'running', 'it died before recording the result');
  const firstImage = readFileSync(join(dir, 'images', job.id, '0.png'));
  const worker = await startWorker({
    redisUrl: redis.url,
    prefix,
    modelsDir,
    storage: createStorage({ kind: 'fs', dir }),
    maxBatch: 1,
    maxPixels: 1 << 20,
    maxSteps: 50,
    lockDurationMs: 1000,
    stalledIntervalMs: 500,
  });
  try {
    const end = await until(queue, job.id, terminal);
    assert.equal(end.status, 'succeeded');
    assert.equal(end.attempts, 2);
    assert.deepEqual(end.output!.images, [`images/${job.id}/0.png`]);
    assert.deepEqual(readdirSync(join(dir, 'images', job.id)), ['0.png'], 'one result');
    assert.ok(readFileSync(join(dir, 'images', job.id, '0.png')).equals(firstImage), 'the same seed stored the same image again');
    assert.deepEqual(
      await hooks.settled(job.id),
      [`${job.id}:completed:end`, `${job.id}:start:1`, `${job.id}:start:2`],
      'one webhook per event: a start per attempt, one completion',
    );
  } finally {
    await worker.close();
    await hooks.close();
    await queue.close();
  }
});

test('a job that reaches a worker already finished is completed at once, not run again; its webhook goes out once', async () => {
  const prefix = newPrefix();
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const hooks = webhookReceiver(queue, prefix);
  const engine = new Engine({ modelsDir, maxPixels: 1 << 20, maxSteps: 50 });
  let runs = 0;
  const counting: RenderEngine = {
    listModels: () => engine.listModels(),
    listLoras: () => engine.listLoras(),
    validate: (p) => engine.validate(p),
    generate: (items, h) => {
      runs += items.length;
      return engine.generate(items, h);
    },
  };
  const job = await queue.submit(base, { owner: 'alice', webhook: { url: 'http://hooks.example/', events: ['completed'] } });
  // as a worker that wrote the result and died before completing BullMQ's side would leave it
  await queue.lifecycle.start(job, { workerId: 'gone', batchSize: 1, steps: 2, attempt: 1 });
  const output = { images: [`images/${job.id}/0.png`], seeds: [11], infotexts: ['a quay'] };
  await queue.lifecycle.succeed(job, output);
  const worker = new RenderWorker({
    redisUrl: redis.url,
    prefix,
    maxBatch: 4,
    engine: counting,
    storeImages: async () => {
      throw new Error('must not store');
    },
  });
  await worker.start();
  const later = await queue.submit({ ...base, seed: 12 }, { owner: 'alice' });
  try {
    assert.deepEqual(await hooks.settled(job.id), [`${job.id}:completed:end`]);
    assert.equal((await until(queue, later.id, terminal)).status, 'failed', 'the next job did run (and could not store)');
    assert.equal(runs, 1, 'only the next job reached the engine');
    const end = (await queue.get(job.id))!;
    assert.deepEqual(end.output, output);
    assert.equal(end.worker_id, 'gone');
    assert.equal(end.attempts, 1);
  } finally {
    await worker.close();
    await engine.close();
    await hooks.close();
    await queue.close();
  }
});

test("deterministic bad input is not retried: a plain Error (a model whose vocabulary lacks CLIP's start token) and an unreadable LoRA file", async () => {
  const models = tmp('odd-models');
  cpSync(join(modelsDir, 'tiny'), join(models, 'tiny'), { recursive: true });
  cpSync(join(modelsDir, 'tiny'), join(models, 'odd'), { recursive: true });
  const vocabPath = join(models, 'odd', 'tokenizer', 'vocab.json');
  const vocab = JSON.parse(readFileSync(vocabPath, 'utf8')) as Record<string, number>;
  delete vocab['<|startoftext|>'];
  writeFileSync(vocabPath, JSON.stringify(vocab));
  const loras = tmp('odd-loras');
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(join(loras, 'f64.safetensors'), Buffer.concat([length, header, Buffer.alloc(8)]));

  const prefix = newPrefix();
  const queue = new FarmQueue({ redisUrl: redis.url, prefix, attempts: 3 });
  const logged: { msg: string; level?: string; stack?: unknown }[] = [];
  const worker = await startWorker({
    redisUrl: redis.url,
    prefix,
    modelsDir: models,
    loraDir: loras,
    storage: createStorage({ kind: 'fs', dir: tmp('odd-out') }),
    maxBatch: 1,
    maxPixels: 1 << 20,
    maxSteps: 50,
    log: (msg, fields, level) => logged.push({ msg, level, stack: fields?.stack }),
  });
  try {
    const plain = await queue.submit({ ...base, model: 'odd' }, { owner: 'alice' });
    const lora = await queue.submit({ ...base, loras: [{ name: 'f64', weight: 1 }] }, { owner: 'alice' });
    const [a, b] = await Promise.all([until(queue, plain.id, terminal), until(queue, lora.id, terminal)]);
    assert.equal(a.status, 'failed');
    assert.match(a.error!, /startoftext/);
    assert.equal(a.attempts, 1, 'a plain Error is not retried');
    assert.equal(b.status, 'failed');
    assert.match(b.error!, /F64/);
    assert.equal(b.attempts, 1, 'bad input is not retried');
    const bug = logged.find((l) => l.level === 'error' && /unexpected error/.test(l.msg));
    assert.ok(bug && typeof bug.stack === 'string' && /startoftext/.test(bug.stack), 'the plain Error is logged at error with its stack');
    for (const id of [plain.id, lora.id]) {
      const job = (await queue.renderJob(id))!;
      assert.equal(await job.getState(), 'failed');
      assert.equal(job.attemptsMade, 1, 'BullMQ ran it once, of the three attempts allowed');
    }
  } finally {
    await worker.close();
    await queue.close();
  }
});
