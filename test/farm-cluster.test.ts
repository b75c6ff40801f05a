// A farm past one machine, on loopback: one Redis, one S3 server, two gateways behind a port chooser (a TCP balancer), three workers.
// Every call goes through the balancer, so submit, SSE, polling and downloads land on either gateway. Then each kind
// of process is stopped under load with SIGTERM: no request may fail and no job may be lost or run twice.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startS3Server, startPortChooser, ensureTinyModel, type RedisServer, type S3Server, type PortChooser } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, client, waitFor, type Proc, type FarmEnv } from './helpers/farm';

let redis: RedisServer;
let s3: S3Server;
let farm: FarmEnv;
let gateways: (Proc & { url: string })[];
let workers: Proc[];
let balancer: PortChooser;
const procs: Proc[] = [];

before(async () => {
  redis = await startRedis();
  s3 = await startS3Server({ bucket: 'cluster' });
  const { modelsDir } = await ensureTinyModel();
  farm = farmEnv({
    redisUrl: redis.url, modelsDir,
    storage: { STORAGE: 's3', S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_FORCE_PATH_STYLE: 'true', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' },
    env: { SHUTDOWN_DRAIN_MS: '1500' },
  });
  gateways = await Promise.all([startGatewayProcess(farm), startGatewayProcess(farm)]);
  workers = [startWorkerProcess(farm), startWorkerProcess(farm), startWorkerProcess(farm)];
  procs.push(...gateways, ...workers);
  balancer = await startPortChooser(gateways.map((g) => Number(new URL(g.url).port)));
  await waitFor('3 live workers', async () => (await (await fetch(`${balancer.url}/readyz`)).json()).workers === 3);
});
after(async () => {
  await balancer?.close();
  for (const p of procs) await p.kill('SIGKILL');
  await s3?.stop();
  await redis?.stop();
});

const tiny = (i: number) => ({ prompt: `lighthouse number ${i}`, width: 64, height: 64, steps: 3 + (i % 3), seed: 1000 + i });

test('through the balancer: two users, 24 jobs, SSE, downloads and A1111 across both gateways', async () => {
  const alice = client(balancer.url);
  const bob = client(balancer.url, 'bob');
  const mine = new Map<string, string[]>([['alice', []], ['bob', []]]);
  for (let i = 0; i < 24; i++) {
    const [who, c] = i % 2 ? ['bob', bob] as const : ['alice', alice] as const;
    const r = await c.post('/v1/jobs', tiny(i));
    assert.equal(r.status, 202);
    mine.get(who)!.push(r.body.id);
  }
  const sse = await fetch(`${balancer.url}/v1/jobs/${mine.get('alice')![11]}/events`, { headers: { authorization: alice.auth } });
  const streamed = (await sse.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  assert.equal(streamed.at(-1).status, 'succeeded', 'the SSE stream ends with the end of the job');

  const done = [...await Promise.all(mine.get('alice')!.map((id) => alice.waitForJob(id))), ...await Promise.all(mine.get('bob')!.map((id) => bob.waitForJob(id)))];
  assert.deepEqual(done.map((j) => j.status), done.map(() => 'succeeded'));
  assert.ok(done.every((j) => j.attempts === 1), 'every job ran once');
  assert.ok(new Set(done.map((j) => j.worker_id)).size >= 2, 'work spread over the workers');
  for (const j of done.slice(0, 6)) {
    const png = await alice.get(j.output.images[0]);
    if (j.owner === 'alice') assert.ok(png.body.subarray(1, 4).equals(Buffer.from('PNG')), 'images come from the bucket through either gateway');
    else assert.equal(png.status, 404, "another user's images are not served");
  }
  assert.deepEqual(new Set((await alice.get('/v1/jobs?limit=100')).body.jobs.map((j: any) => j.id)), new Set(mine.get('alice')));
  assert.deepEqual(new Set((await bob.get('/v1/jobs?limit=100')).body.jobs.map((j: any) => j.id)), new Set(mine.get('bob')));

  const a1111 = await alice.post('/sdapi/v1/txt2img', { prompt: 'a harbour', width: 64, height: 64, steps: 3 });
  assert.equal(a1111.status, 200);
  assert.ok(Buffer.from(a1111.body.images[0], 'base64').subarray(1, 4).equals(Buffer.from('PNG')));
  assert.ok([...balancer.handed.values()].every((n) => n > 0), 'both gateways took connections');
});

test('SIGTERM to a gateway under load: no request fails, it exits 0, the farm goes on', async () => {
  const alice = client(balancer.url);
  let stop = false;
  const failures: string[] = [];
  const accepted: string[] = [];
  let answered = 0;
  const loop = async (n: number) => {
    for (let i = 0; !stop; i++) {
      try {
        const r = i % 3 === 0 ? await alice.post('/v1/jobs', { ...tiny(n * 1000 + i), steps: 2 }) : await alice.get('/v1/jobs?limit=5');
        if (r.status >= 400) failures.push(`HTTP ${r.status}`);
        else if (r.body.id) accepted.push(r.body.id);
        answered++;
      } catch (e) {
        failures.push(`${(e as Error).message} ${(e as { cause?: Error }).cause?.message ?? ''}`);
      }
    }
  };
  const loops = Array.from({ length: 6 }, (_, n) => loop(n));
  await waitFor('traffic', async () => answered > 30);
  const exited = gateways[0].kill('SIGTERM');
  assert.equal(await exited, 0, 'the gateway exits cleanly');
  const atExit = answered;
  await waitFor('traffic after the exit', async () => answered > atExit + 30);
  stop = true;
  await Promise.all(loops);
  assert.deepEqual(failures, [], 'no request failed while the gateway went away');
  const done = await Promise.all(accepted.map((id) => alice.waitForJob(id)));
  assert.ok(done.every((j) => j.status === 'succeeded'), 'every job accepted during the shutdown succeeded');
});

test('SIGTERM to a worker under load: it finishes its batch and exits 0; every job succeeds once', async () => {
  const alice = client(balancer.url);
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push((await alice.post('/v1/jobs', { ...tiny(5000 + i), width: 128, height: 128, steps: 12 })).body.id);
  const running = await waitFor('a running job', async () => {
    for (const id of ids) {
      const j = (await alice.get(`/v1/jobs/${id}`)).body;
      if (j.status === 'running' && j.progress?.step >= 1) return j;
    }
    return null;
  });
  const pid = Number(String(running.worker_id).split('-').at(-2));
  const victim = workers.find((w) => w.child.pid === pid);
  assert.ok(victim, `the worker ${running.worker_id} is one of ours`);
  const exited = victim.kill('SIGTERM');
  assert.equal(await exited, 0);
  const done = await Promise.all(ids.map((id) => alice.waitForJob(id)));
  assert.ok(done.every((j) => j.status === 'succeeded' && j.attempts === 1), JSON.stringify(done.map((j) => [j.status, j.attempts])));
  const finishedByVictim = done.find((j) => j.id === running.id)!;
  assert.equal(finishedByVictim.worker_id, running.worker_id, 'the job it was running when told to stop was finished by it');
});
