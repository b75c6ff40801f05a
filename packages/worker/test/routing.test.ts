// Model-aware routing with real workers, Redis and engines: two workers and two models (copies of the tiny model
// under two names). Each worker keeps its model while both models have work; a job another worker's batch cannot
// take is never held by it (a second worker runs it while the first batch renders); every job completes once.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { FarmQueue, type JobEnvelope } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startRedis, ensureTinyModel } from '@farm/testkit';
import { startWorker } from '../src/index';
import { tinyParams, until, terminal } from './job-helpers';

const redis = await startRedis();
const { modelsDir: tinyDir } = await ensureTinyModel();
const modelsDir = mkdtempSync(join(tmpdir(), 'farm-two-models-'));
for (const name of ['model-a', 'model-b']) cpSync(join(tinyDir, 'tiny'), join(modelsDir, name), { recursive: true });
const storage = createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'routing-test-')) });
afterAll(() => redis.stop());

const workerOpts = (prefix: string, workerId: string) => ({
  redisUrl: redis.url,
  prefix,
  workerId,
  modelsDir,
  storage,
  maxBatch: 2,
  maxPixels: 1 << 20,
  maxSteps: 60,
  switchAfterMs: 50,
});

test('two workers, two models: each worker keeps its model while both models have work; every job completes once', async () => {
  const prefix = `r${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const submitted: JobEnvelope[] = [];
  for (let i = 0; i < 8; i++) {
    for (const model of ['model-a', 'model-b']) submitted.push(await queue.submit(tinyParams({ model, seed: i, steps: 4 }), { owner: 'alice' }));
  }
  const w1 = await startWorker(workerOpts(prefix, 'w1'));
  // w1 takes the oldest job's model (model-a); w2 arrives while w1 holds it and takes the model nobody holds
  await until(queue, submitted[0].id, (e) => e.status !== 'queued');
  const w2 = await startWorker(workerOpts(prefix, 'w2'));
  try {
    const ended = await Promise.all(submitted.map((s) => until(queue, s.id, terminal, 120_000)));
    for (const e of ended) {
      assert.equal(e.status, 'succeeded', e.error ?? '');
      assert.equal(e.attempts, 1, 'ran once');
      assert.equal(e.output!.images.length, 1);
    }
    const byModel = (m: string) => ended.filter((e) => e.input.model === m);
    for (const [worker, first] of [
      ['w1', 'model-a'],
      ['w2', 'model-b'],
    ] as const) {
      const mine = ended.filter((e) => e.worker_id === worker).sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!));
      assert.ok(mine.length > 0, `${worker} ran jobs`);
      assert.equal(mine[0].input.model, first, `${worker} starts on ${first}`);
      const switchedAt = mine.find((e) => e.input.model !== first);
      if (switchedAt) {
        // it may move on only once its model had no job left waiting: every job of that model had been taken
        const lastOfFirst = Math.max(...byModel(first).map((e) => Date.parse(e.started_at!)));
        assert.ok(lastOfFirst <= Date.parse(switchedAt.started_at!), `${worker} left ${first} while it still had work`);
        assert.ok(
          mine.filter((e) => Date.parse(e.started_at!) >= Date.parse(switchedAt.started_at!)).every((e) => e.input.model !== first),
          `${worker} switched once`,
        );
      }
    }
    const counts = await queue.countsByModel();
    assert.equal(counts['model-a'].succeeded + counts['model-b'].succeeded, 16, 'every BullMQ job completed');
    assert.equal(counts['model-a'].queued + counts['model-b'].queued + counts['model-a'].running + counts['model-b'].running, 0);
  } finally {
    await w1.close();
    await w2.close();
    await queue.close();
  }
});

test('no pinned jobs: a job the running batch cannot take waits in the queue, not at that worker; another worker runs it meanwhile', async () => {
  const prefix = `r${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  // same model, different batch keys (size): the first worker's batch can take only the first
  const long = await queue.submit(tinyParams({ model: 'model-a', width: 192, height: 192, steps: 40, seed: 1 }), { owner: 'alice' });
  const other = await queue.submit(tinyParams({ model: 'model-a', steps: 4, seed: 2 }), { owner: 'alice' });
  const w1 = await startWorker(workerOpts(prefix, 'w1'));
  try {
    await until(queue, long.id, (e) => e.status === 'running');
    assert.equal(await queue.jobState(other.id), 'waiting', 'the job behind it stays in the queue while the batch renders');
    const w2 = await startWorker(workerOpts(prefix, 'w2'));
    try {
      const [a, b] = await Promise.all([until(queue, long.id, terminal, 120_000), until(queue, other.id, terminal, 120_000)]);
      assert.equal(a.status, 'succeeded');
      assert.equal(b.status, 'succeeded');
      assert.equal(b.worker_id, 'w2', 'the idle worker took it');
      assert.ok(Date.parse(b.completed_at!) < Date.parse(a.completed_at!), 'it ran while the long batch rendered');
      assert.equal(a.batch_size, 1);
    } finally {
      await w2.close();
    }
  } finally {
    await w1.close();
    await queue.close();
  }
});

/**
 * A worker that records how each of its batches was found, and `runThenSleep`: submits a job, waits until it succeeded
 * and the worker has surveyed after its batch (finding nothing, it sleeps), and answers the job's id.
 */
async function observedWorker(queue: FarmQueue, prefix: string) {
  const found: string[] = [];
  let surveys = 0;
  // resolved when the worker counts a job ended (after its terminal envelope is published), with its surveys by then
  const endedAt = new Map<string, (surveys: number) => void>();
  let waiter: { after: number; resolve: () => void } | null = null;
  const worker = await startWorker({
    ...workerOpts(prefix, 'w1'),
    observer: {
      surveyed: () => {
        surveys++;
        if (waiter && surveys > waiter.after) waiter.resolve();
      },
      jobEnded: (e) => endedAt.get(e.id)?.(surveys),
      batchStarted: ({ found: how }) => found.push(how),
    },
  });
  const runThenSleep = async (model: string, seed: number): Promise<string> => {
    const id = randomUUID();
    const ended = new Promise<number>((r) => endedAt.set(id, r));
    const job = await queue.submit(tinyParams({ model, steps: 2, seed }), { owner: 'alice', id });
    assert.equal((await until(queue, job.id, terminal)).status, 'succeeded');
    const after = await ended;
    if (surveys <= after) await new Promise<void>((resolve) => (waiter = { after, resolve }));
    return id;
  };
  return { worker, found, runThenSleep };
}

test('an idle worker woken by a new job of its warm model takes it without reading its queues first; another model is surveyed', async () => {
  const prefix = `r${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const { worker, found, runThenSleep } = await observedWorker(queue, prefix);
  try {
    await runThenSleep('model-a', 1); // the worker takes up model-a
    await runThenSleep('model-a', 2);
    await runThenSleep('model-b', 3);
    assert.deepEqual(found, ['survey', 'wake', 'survey'], 'how each batch was found');
  } finally {
    await worker.close();
    await queue.close();
  }
});

test("an idle worker's claim of its warm model's next job rides behind its wake-up read: Redis runs it on the reading connection as the read is answered", async () => {
  const prefix = `c${randomUUID().slice(0, 8)}`;
  const queue = new FarmQueue({ redisUrl: redis.url, prefix });
  const { worker, found, runThenSleep } = await observedWorker(queue, prefix);
  const admin = new Redis(redis.url);
  const monitor = await admin.monitor();
  const ran: { args: string[]; source: string }[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => ran.push({ args, source }));
  try {
    // the first job is found by a survey; the survey after its batch finds nothing, and the worker sleeps
    await runThenSleep('model-a', 1);
    const from = ran.length;
    const second = await runThenSleep('model-a', 2);
    assert.deepEqual(found, ['survey', 'wake']);
    // BullMQ's claim (moveToActive: 11 keys, the queue's wait list first), sent as its text once per connection
    const wait = `${prefix}:${queue.keys.renderQueue('model-a')}:wait`;
    const isClaim = (a: string[]) => /^eval(sha)?$/i.test(a[0]) && a[2] === '11' && a[3] === wait;
    const since = ran.slice(from);
    const added = since.findIndex((c) => c.args.some((x) => x.includes(second)));
    const read = since
      .slice(0, added)
      .reverse()
      .find((c) => c.args[0].toLowerCase() === 'xread');
    assert.ok(read, 'the worker slept in a blocking read');
    const claims = since.slice(added).filter((c) => isClaim(c.args));
    assert.ok(claims.length > 0, 'the job was claimed');
    assert.ok(
      claims.every((c) => c.source === read.source),
      'by the connection that read the wake-up, and by no other take',
    );
  } finally {
    monitor.disconnect();
    admin.disconnect();
    await worker.close();
    await queue.close();
  }
});
