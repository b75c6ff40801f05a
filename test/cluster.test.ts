// The farm as a cluster on loopback: one Redis, one S3 server, two gateways behind a port chooser (a TCP load
// balancer), three workers. Every call goes through the chooser, so submitting, polling, SSE and downloads land on
// either gateway. Then a gateway and a worker are each stopped with SIGTERM under load: no request may fail, no job
// may be lost or run twice.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import sharp from 'sharp';
import { startCluster, isWorkerOf, type Cluster } from './helpers/cluster';
import { client, waitFor } from './helpers/farm';

let cluster: Cluster;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

beforeAll(async () => {
  // every gateway drains for 1.5 s after SIGTERM (/readyz 503, Connection: close), then stops accepting; the chooser
  // does not probe /readyz, so new connections keep reaching a draining gateway until it refuses them
  cluster = await startCluster({ gateways: 2, workers: 3, storage: 's3', env: { SHUTDOWN_DRAIN_MS: '1500' } });
});
afterAll(async () => {
  await cluster?.stop();
});

/** Raw HTTP on a connection of its own (agent: false), so the chooser hands it to the next gateway in turn. */
function rawRequest(
  url: string,
  opts: { method?: string; auth?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        agent: false,
        headers: { ...(opts.auth ? { authorization: opts.auth } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c) => {
            text += c;
          })
          .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The promise's value, or an error once `ms` have passed. */
async function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function sseEvents(text: string): any[] {
  return text.split('\n\n').flatMap((block) => {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    return data ? [JSON.parse(data.slice(6))] : [];
  });
}

const sizes = [
  [64, 64],
  [64, 96],
  [96, 64],
] as const;

test('a stream of jobs from two users through the chooser: each succeeds once, spread over workers, images from either gateway', async () => {
  const users = { alice: client(cluster.url, 'alice'), bob: client(cluster.url, 'bob') };
  const submitted = await Promise.all(
    Array.from({ length: 24 }, async (_, i) => {
      const user = i % 2 === 0 ? 'alice' : 'bob';
      const [width, height] = sizes[i % sizes.length];
      const r = await users[user].post('/v1/jobs', { prompt: `a lighthouse, number ${i}`, width, height, steps: 3 + (i % 4), seed: 500 + i });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return { id: r.body.id as string, user, width, height } as const;
    }),
  );
  const done = await Promise.all(submitted.map((s) => users[s.user].waitForJob(s.id)));
  assert.deepEqual(
    done.map((j) => j.status),
    done.map(() => 'succeeded'),
    done.map((j) => j.error).join('; '),
  );
  assert.deepEqual(
    done.map((j) => j.attempts),
    done.map(() => 1),
    'every job ran exactly once',
  );
  const byWorker = new Set(done.map((j) => j.worker_id));
  assert.ok(byWorker.size >= 2, `work spread over ${byWorker.size} worker(s): ${[...byWorker].join(', ')}`);
  assert.ok(
    done.every((j) => cluster.workers.some((w) => isWorkerOf(j.worker_id, w))),
    "each job ran on one of the cluster's workers",
  );

  // downloads: through the chooser, and straight from each gateway (results live in the shared S3 bucket)
  for (const [i, s] of submitted.entries()) {
    const job = done[i];
    assert.equal(job.output.images.length, 1);
    const viaChooser = await users[s.user].get(job.output.images[0]);
    assert.equal(viaChooser.status, 200);
    assert.ok(viaChooser.body.subarray(0, 8).equals(PNG), 'PNG magic bytes');
    const meta = await sharp(viaChooser.body).metadata();
    assert.deepEqual([meta.width, meta.height], [s.width, s.height]);
    const gateway = cluster.gateways[i % cluster.gateways.length];
    const direct = await client(gateway.url, s.user).get(job.output.images[0]);
    assert.equal(direct.status, 200, `image ${job.output.images[0]} from gateway ${gateway.url}`);
    assert.ok(direct.body.equals(viaChooser.body), 'both gateways serve the same bytes');
  }
  const handed = [...cluster.chooser.handed.values()];
  assert.ok(
    handed.every((n) => n > 0),
    `the chooser used both gateways: ${handed}`,
  );

  // each user lists only their own jobs
  const list = async (user: 'alice' | 'bob') => (await users[user].get('/v1/jobs?limit=100')).body;
  const [alices, bobs] = [await list('alice'), await list('bob')];
  const ids = (user: string) =>
    submitted
      .filter((s) => s.user === user)
      .map((s) => s.id)
      .sort();
  assert.deepEqual(alices.jobs.map((j: any) => j.id).sort(), ids('alice'));
  assert.deepEqual(bobs.jobs.map((j: any) => j.id).sort(), ids('bob'));
  assert.ok(alices.jobs.every((j: any) => j.owner === 'alice') && bobs.jobs.every((j: any) => j.owner === 'bob'));
  assert.equal((await users.bob.get(`/v1/jobs/${ids('alice')[0]}`)).status, 404, "another user's job is not found");
});

test('SSE through the chooser on another connection than the submission ends with the terminal event', async () => {
  const alice = client(cluster.url, 'alice');
  const before = new Map(cluster.chooser.handed);
  // two connections of their own, one after the other: round-robin hands them to different gateways
  const created = await rawRequest(`${cluster.url}/v1/jobs`, {
    method: 'POST',
    auth: alice.auth,
    body: { prompt: 'a river at night', width: 128, height: 128, steps: 20, seed: 77 },
  });
  assert.equal(created.status, 202, created.text);
  const job = JSON.parse(created.text);
  const sse = await rawRequest(`${cluster.url}${job.links.events}`, { auth: alice.auth });
  const deltas = cluster.gateways.map((g) => cluster.chooser.handed.get(g.port)! - before.get(g.port)!);
  assert.deepEqual(deltas, [1, 1], 'the submission and the event stream went to different gateways');
  assert.equal(sse.status, 200);
  assert.equal(sse.headers['content-type'], 'text/event-stream');
  const events = sseEvents(sse.text);
  assert.ok(events.length >= 1, sse.text);
  console.log(`events seen: ${events.map((e) => e.status + (e.progress?.step ? `@${e.progress.step}` : '')).join(' ')}`);
  assert.ok(events.every((e) => e.id === job.id));
  assert.equal(events.at(-1).status, 'succeeded', sse.text);
  assert.equal(events.filter((e) => ['succeeded', 'failed', 'canceled'].includes(e.status)).length, 1, 'one terminal event, last');
  assert.equal((await alice.get(`/v1/jobs/${job.id}`)).body.attempts, 1);
});

test('A1111 txt2img through the chooser answers base64 PNGs', async () => {
  const alice = client(cluster.url, 'alice');
  const r = await alice.post('/sdapi/v1/txt2img', { prompt: 'a windmill', width: 64, height: 64, steps: 4, seed: 31, batch_size: 2 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.images.length, 2);
  for (const b64 of r.body.images) assert.ok(Buffer.from(b64, 'base64').subarray(0, 8).equals(PNG));
  assert.equal(JSON.parse(r.body.info).seed, 31);
});

test('SIGTERM to a gateway while clients hammer the chooser: no request fails, it exits 0, the other serves on', async () => {
  const [leaving, staying] = cluster.gateways;
  const users = [client(cluster.url, 'alice'), client(cluster.url, 'bob')];
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const posted: { id: string; user: number }[] = [];
  const MAX_POSTS = 48;
  let completed = 0;
  let postsStarted = 0;
  let stopping = false;
  const loop = async (n: number) => {
    const u = n % users.length;
    for (let i = 0; !stopping; i++) {
      const post = i % 8 === 0 && postsStarted < MAX_POSTS; // a POST now and then, most of them during the drain
      if (post) postsStarted++;
      try {
        const r = post
          ? await users[u].post('/v1/jobs', { prompt: `hammer ${n}.${i}`, width: 64, height: 64, steps: 2, seed: n * 1000 + i })
          : await users[u].get(i % 3 === 0 && posted.length ? `/v1/jobs/${posted.find((p) => p.user === u)?.id ?? posted[0].id}` : '/v1/jobs?limit=5');
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (post && r.status === 202) posted.push({ id: r.body.id, user: u });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        failures.push(`${post ? 'POST' : 'GET'}: ${err.message} ${err.cause?.code ?? ''} ${err.cause?.message ?? ''}`);
      }
      completed++;
    }
  };
  const loops = Array.from({ length: 6 }, (_, n) => loop(n));
  await waitFor('load on both gateways', async () => completed >= 40, 30_000);
  const handedAtSignal = cluster.chooser.handed.get(leaving.port)!;
  const exited = leaving.kill('SIGTERM');
  const code = await deadline(exited, 40_000, 'the gateway to exit');
  const atExit = completed;
  await waitFor('more requests after the exit, and every POST made', async () => completed >= atExit + 40 && postsStarted === MAX_POSTS, 60_000);
  stopping = true;
  await Promise.all(loops);
  console.log(
    `${completed} requests, statuses ${JSON.stringify([...statuses])}; connections to the leaving gateway ${handedAtSignal} before the signal, ` +
      `${cluster.chooser.handed.get(leaving.port)! - handedAtSignal} after; refused ${cluster.chooser.refused.get(leaving.port)}; in rotation now ${cluster.chooser.healthy()}`,
  );

  assert.deepEqual(failures, [], `${failures.length} of ${completed} requests failed`);
  assert.deepEqual(
    [...statuses.keys()].filter((s) => s !== 200 && s !== 202),
    [],
    `statuses: ${JSON.stringify([...statuses])}`,
  );
  assert.equal(code, 0, 'the gateway exited cleanly');
  await assert.rejects(fetch(`${leaving.url}/healthz`), 'the stopped gateway no longer listens');
  assert.equal((await fetch(`${staying.url}/readyz`)).status, 200, 'the remaining gateway is ready');
  assert.equal((await users[0].get('/v1/jobs?limit=1')).status, 200, 'and serves through the chooser');
  // fresh connections: those the chooser tries on the stopped gateway first are refused and go to the other one
  const refusedBefore = cluster.chooser.refused.get(leaving.port)!;
  for (let i = 0; i < 4; i++) assert.equal((await rawRequest(`${cluster.url}/v1/jobs?limit=1`, { auth: users[0].auth })).status, 200);
  assert.ok(cluster.chooser.refused.get(leaving.port)! >= refusedBefore + 2, 'round-robin tried the stopped gateway, which refused');
  // nothing accepted was lost or run twice
  const ends = await Promise.all(posted.map((p) => users[p.user].waitForJob(p.id)));
  assert.equal(posted.length, MAX_POSTS, 'every POST was accepted');
  assert.deepEqual(
    ends.map((j) => [j.status, j.attempts]),
    ends.map(() => ['succeeded', 1]),
  );
});

test('SIGTERM to a worker running a batch: it finishes the batch and exits 0; every job succeeds once', async () => {
  const alice = client(cluster.url, 'alice');
  const ids: string[] = [];
  // big enough that a batch is still running when the signal lands
  for (let i = 0; i < 12; i++) {
    const r = await alice.post('/v1/jobs', { prompt: `a field of poppies ${i}`, width: 128, height: 128, steps: 24, seed: 900 + i });
    assert.equal(r.status, 202);
    ids.push(r.body.id);
  }
  const running = await waitFor('a job running on a worker', async () => {
    const jobs = (await alice.get('/v1/jobs?limit=100')).body.jobs.filter((j: any) => ids.includes(j.id) && j.status === 'running');
    for (const j of jobs) {
      const worker = cluster.workers.find((w) => isWorkerOf(j.worker_id, w));
      if (worker) return { job: j, worker };
    }
    return null;
  });
  const { worker } = running;
  // what that worker has in hand at the signal: the batch it finishes before exiting
  const inHand = (await alice.get('/v1/jobs?limit=100')).body.jobs
    .filter((j: any) => ids.includes(j.id) && j.status === 'running' && j.worker_id === running.job.worker_id)
    .map((j: any) => j.id);
  const code = await deadline(worker.kill('SIGTERM'), 60_000, 'the worker to exit');
  console.log(`worker ${running.job.worker_id} had ${inHand.length} job(s) running at the signal`);
  assert.equal(code, 0, 'the worker exited cleanly');
  const ends = await Promise.all(ids.map((id) => alice.waitForJob(id, undefined, 180_000)));
  assert.deepEqual(
    ends.map((j) => j.status),
    ids.map(() => 'succeeded'),
    ends.map((j) => j.error).join('; '),
  );
  assert.deepEqual(
    ends.map((j) => j.attempts),
    ids.map(() => 1),
    'no job ran twice',
  );
  for (const id of [running.job.id, ...inHand]) {
    assert.equal(ends[ids.indexOf(id)].worker_id, running.job.worker_id, `job ${id} was finished by the worker that had it`);
  }
  const others = new Set(ends.map((j) => j.worker_id).filter((w) => w !== running.job.worker_id));
  assert.ok(others.size >= 1, 'the other workers took the rest');
});
