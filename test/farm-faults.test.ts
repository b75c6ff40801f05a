// Faults with real processes: two workers sharing a stream of jobs, a worker SIGKILLed mid-job,
// Redis killed and restarted under load. Nothing accepted may be lost.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { farmEnv, startGatewayProcess, startWorkerProcess, client, waitFor, type Proc, type FarmEnv, farmFixture } from './helpers/farm';

const fx = farmFixture();
const small = { prompt: 'a small boat', width: 64, height: 64, steps: 4 };

async function farmWith(workers: number): Promise<{ farm: FarmEnv; gateway: Proc & { url: string }; workers: Proc[] }> {
  const farm = farmEnv({ redisUrl: fx.redis.url, modelsDir: fx.modelsDir });
  const gateway = await startGatewayProcess(farm);
  const ws = Array.from({ length: workers }, () => startWorkerProcess(farm));
  fx.procs.push(gateway, ...ws);
  envs.set(gateway.url, farm);
  await waitFor(`${workers} live workers`, async () => (await (await fetch(`${gateway.url}/readyz`)).json()).workers === workers);
  return { farm, gateway, workers: ws };
}

test('two workers share 20 jobs; every job succeeds once', async () => {
  const { gateway } = await farmWith(2);
  const alice = client(gateway.url);
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await alice.post('/v1/jobs', { ...small, seed: i, steps: 4 + (i % 3) })).body.id);
  const done = await Promise.all(ids.map((id) => alice.waitForJob(id)));
  assert.ok(
    done.every((j) => j.status === 'succeeded'),
    JSON.stringify(done.map((j) => j.status)),
  );
  const byWorker = new Set(done.map((j) => j.worker_id));
  assert.equal(byWorker.size, 2, 'both workers did work');
  assert.ok(done.every((j) => j.attempts === 1));
});

test('a worker SIGKILLed mid-batch: another worker reruns every job of the batch, each finishes once', async () => {
  const farm = farmEnv({ redisUrl: fx.redis.url, modelsDir: fx.modelsDir });
  const gateway = await startGatewayProcess(farm);
  envs.set(gateway.url, farm);
  fx.procs.push(gateway);
  const alice = client(gateway.url);
  const ids: string[] = [];
  // queued before the worker starts, so that it takes all four as one batch
  for (let i = 0; i < 4; i++) ids.push((await alice.post('/v1/jobs', { ...small, width: 192, height: 192, steps: 60, seed: 40 + i })).body.id);
  const worker = startWorkerProcess(farm);
  fx.procs.push(worker);
  await alice.waitForJob(ids[0], (j) => j.status === 'running' && j.batch_size === 4 && j.progress?.step >= 2);
  await worker.kill('SIGKILL');
  const rescuer = startWorkerProcess(farmEnvOf(gateway));
  fx.procs.push(rescuer);
  const ends = await Promise.all(ids.map((id) => alice.waitForJob(id)));
  for (const end of ends) {
    assert.equal(end.status, 'succeeded', end.error ?? '');
    assert.equal(end.attempts, 2, 'ran once on the killed worker, once on the rescuer');
    assert.deepEqual(end.output.images, [`/v1/images/${end.id}/0.png`], 'one result, not two');
    assert.equal((await alice.get(end.output.images[0])).status, 200);
  }
  assert.equal((await alice.get('/v1/jobs?limit=100')).body.total, 4, 'no job was duplicated');
});

test('Redis killed and restarted under load: 503 while down, every accepted job finishes', async () => {
  const { gateway } = await farmWith(1);
  const alice = client(gateway.url);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await alice.post('/v1/jobs', { ...small, seed: 100 + i, steps: 20 })).body.id);
  await alice.waitForJob(ids[0], (j) => j.status !== 'queued');
  await fx.redis.kill();
  const during = await alice.post('/v1/jobs', small);
  assert.equal(during.status, 503);
  assert.match(during.body.error.message, /Redis/);
  await fx.redis.restart();
  const done = await Promise.all(ids.map((id) => alice.waitForJob(id, undefined, 120_000)));
  assert.deepEqual(
    done.map((j) => j.status),
    ids.map(() => 'succeeded'),
  );
  const after = await alice.post('/v1/jobs', small);
  assert.equal(after.status, 202);
});

const envs = new Map<string, FarmEnv>();
function farmEnvOf(gateway: Proc & { url: string }): FarmEnv {
  return envs.get(gateway.url)!;
}

test('a job that takes its worker down every time is failed after three runs, not retried forever', async () => {
  const { gateway, workers } = await farmWith(1);
  const alice = client(gateway.url);
  const created = await alice.post('/v1/jobs', { ...small, width: 192, height: 192, steps: 60 });
  let current = workers[0];
  for (let run = 1; run <= 3; run++) {
    await alice.waitForJob(created.body.id, (j) => j.status === 'running' && j.attempts === run && j.progress?.step >= 1);
    await current.kill('SIGKILL'); // what a job that crashes the process (OOM, driver fault) does
    current = startWorkerProcess(farmEnvOf(gateway));
    fx.procs.push(current);
  }
  const end = await alice.waitForJob(created.body.id);
  assert.equal(end.status, 'failed');
  assert.equal(end.attempts, 3);
  assert.match(end.error, /stopped its worker 3 times and is not retried again/);
  const next = await alice.post('/v1/jobs', { ...small, seed: 7 });
  assert.equal((await alice.waitForJob(next.body.id)).status, 'succeeded', 'the worker that refused it goes on serving');
});
