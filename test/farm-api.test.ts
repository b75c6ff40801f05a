// The native API across real processes: gateway + worker + Redis, results in a real S3 server.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';
import sharp from 'sharp';
import { startRedis, ensureTinyModel, startS3Server, type RedisServer, type S3Server } from '@farm/testkit';
import { readPngText } from '@farm/engine/png';
import { farmEnv, startGatewayProcess, startWorkerProcess, client, waitFor, type Proc, type FarmEnv, waitForWorkers } from './helpers/farm';

let redis: RedisServer;
let s3: S3Server;
let farm: FarmEnv;
let gateway: Proc & { url: string };
let worker: Proc | null = null;
const job = { prompt: 'a lighthouse, (sunset:1.2)', negative_prompt: 'blurry', width: 64, height: 64, steps: 6, seed: 7 };

beforeAll(async () => {
  redis = await startRedis();
  s3 = await startS3Server();
  const { modelsDir } = await ensureTinyModel();
  farm = farmEnv({
    redisUrl: redis.url,
    modelsDir,
    storage: {
      STORAGE: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
    },
  });
  gateway = await startGatewayProcess(farm);
});
afterAll(async () => {
  await worker?.kill();
  await gateway?.kill();
  await s3?.stop();
  await redis?.stop();
});

test('readiness does not need a worker but reports workers; login is required; health is public', async () => {
  const alice = client(gateway.url);
  assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
  const ready = await fetch(`${gateway.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).workers, 0);
  const anonymous = await fetch(`${gateway.url}/v1/jobs`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /Basic/);
  worker = startWorkerProcess(farm);
  await waitForWorkers(gateway.url);
  assert.deepEqual((await alice.get('/v1/models')).body.models, ['tiny']);
});

test('bad requests get a 4xx with a message and queue nothing', async () => {
  const alice = client(gateway.url);
  const cases: [unknown, number, RegExp][] = [
    ['{"prompt": ', 400, /not valid JSON/],
    [{}, 422, /prompt/],
    [{ prompt: 'x', width: 100 }, 422, /multiple of 8/],
    [{ prompt: 'x', width: 0 }, 422, /width/],
    [{ prompt: 'x', steps: 0 }, 422, /steps/],
    [{ prompt: 'x', steps: 100000 }, 422, /steps/],
    [{ prompt: 'x', width: 4096, height: 4096 }, 422, /exceeds the maximum/],
    [{ prompt: 'x', model: 'sdxl' }, 422, /unknown model "sdxl"; available: tiny/],
    [{ prompt: 'x', sampler: 'Magic' }, 422, /unknown sampler "Magic"/],
    [{ prompt: 'x', loras: [{ name: 'nope', weight: 1 }] }, 422, /unknown LoRA "nope"/],
    [{ prompt: 'x', webhook: 'ftp://example.com/hook' }, 422, /http/],
    [{ prompt: 'x', kind: 'img2img' }, 422, /init_image/],
    [{ prompt: 'x', init_image: '%%%not base64%%%' }, 422, /base64/],
    [{ prompt: 'x', batch_size: 10, n_iter: 10 }, 422, /images per request/],
    [{ prompt: 'x', surprise: true }, 422, /surprise|Unrecognized/],
  ];
  for (const [body, status, message] of cases) {
    const r = await alice.post('/v1/jobs', body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(r.body.error.message, message, JSON.stringify(body));
  }
  assert.equal((await alice.get('/v1/jobs')).body.total, 0);
});

test('submit, poll, fetch the image; SSE shows progress then success; other users get 404', async () => {
  const alice = client(gateway.url);
  // long enough to outlast the first report interval (200 ms): a job that ends sooner reports no progress
  const created = await alice.post('/v1/jobs', { ...job, width: 256, height: 256, steps: 24 });
  assert.equal(created.status, 202);
  assert.equal(created.headers.get('location'), `/v1/jobs/${created.body.id}`);
  assert.equal(created.body.links.events, `/v1/jobs/${created.body.id}/events`);
  const events: any[] = [];
  const sse = await fetch(`${gateway.url}${created.body.links.events}`, { headers: { authorization: alice.auth } });
  assert.equal(sse.headers.get('content-type'), 'text/event-stream');
  const text = await sse.text();
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    if (data) events.push(JSON.parse(data.slice(6)));
  }
  assert.equal(events.at(-1).status, 'succeeded');
  assert.ok(
    events.some((e) => e.status === 'running' && e.progress?.step > 0 && e.progress.step < 24),
    'a running event with step k of n',
  );
  const done = (await alice.get(`/v1/jobs/${created.body.id}`)).body;
  assert.equal(done.output.images.length, 1);
  assert.ok(done.metrics.total_seconds >= done.metrics.run_seconds);
  const image = await alice.get(done.output.images[0]);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get('content-type'), 'image/png');
  assert.equal((await sharp(image.body).metadata()).width, 256);
  assert.match(readPngText(image.body).parameters, /Seed: 7, Size: 256x256, Model hash: [0-9a-f]{10}, Model: tiny,/);
  const bob = client(gateway.url, 'bob');
  assert.equal((await bob.get(`/v1/jobs/${created.body.id}`)).status, 404);
  assert.equal((await bob.get(done.output.images[0])).status, 404);
  assert.equal((await bob.del(`/v1/jobs/${created.body.id}`)).status, 404);
  assert.ok(!(await bob.get('/v1/jobs')).body.jobs.some((j: any) => j.id === created.body.id));
});

/** The `data` of each `event: status` block of an SSE body. */
const statusEvents = (text: string) =>
  text
    .split('\n\n')
    .filter((b) => b.startsWith('event: status'))
    .map((b) =>
      JSON.parse(
        b
          .split('\n')
          .find((l) => l.startsWith('data: '))!
          .slice(6),
      ),
    );

test("submit and stream: one POST answers with the job's events, from queued to succeeded; bad input is a 422 and queues nothing", async () => {
  const alice = client(gateway.url);
  const res = await fetch(`${gateway.url}/v1/jobs/stream`, {
    method: 'POST',
    headers: { authorization: alice.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ...job, seed: 21 }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const events = statusEvents(await res.text());
  assert.equal(events[0].status, 'queued');
  assert.equal(res.headers.get('location'), `/v1/jobs/${events[0].id}`);
  assert.equal(events.at(-1).status, 'succeeded');
  assert.ok(
    events.every((e) => e.id === events[0].id),
    'one job',
  );
  assert.deepEqual((await alice.get(`/v1/jobs/${events[0].id}`)).body.output.images, events.at(-1).output.images);
  const before = (await alice.get('/v1/jobs')).body.total;
  const bad = await alice.post('/v1/jobs/stream', { ...job, steps: 0 });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.error.field, 'steps');
  assert.equal((await alice.get('/v1/jobs')).body.total, before, 'nothing queued');
});

test('submit and stream with live_preview_every: the one POST also carries the preview events; without it, none', async () => {
  const alice = client(gateway.url);
  const stream = async (extra: Record<string, unknown>) => {
    const res = await fetch(`${gateway.url}/v1/jobs/stream`, {
      method: 'POST',
      headers: { authorization: alice.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ...job, width: 128, height: 128, steps: 100, seed: 23, ...extra }),
    });
    assert.equal(res.status, 200);
    return res.text();
  };
  const withPreviews = await stream({ live_preview_every: 25 });
  const previews = withPreviews.split('\n\n').filter((block) => block.startsWith('event: preview'));
  assert.ok(previews.length >= 1, 'at least one preview event');
  const first = JSON.parse(
    previews[0]
      .split('\n')
      .find((l) => l.startsWith('data: '))!
      .slice(6),
  );
  assert.ok(first.step % 25 === 0 && first.step > 0, `preview at step ${first.step}`);
  assert.equal(statusEvents(withPreviews).at(-1).status, 'succeeded');
  const without = await stream({});
  assert.ok(!without.includes('event: preview'), 'a job that asks for no previews gets none');
  assert.equal(statusEvents(without).at(-1).status, 'succeeded');
});

test('cancel a running job between steps; a finished job stays finished', async () => {
  const alice = client(gateway.url);
  const long = await alice.post('/v1/jobs', { ...job, width: 192, height: 192, steps: 150 });
  await alice.waitForJob(long.body.id, (j) => j.status === 'running' && j.progress?.step >= 1);
  const del = await alice.del(`/v1/jobs/${long.body.id}`);
  assert.ok([200, 202].includes(del.status));
  const end = await alice.waitForJob(long.body.id);
  assert.equal(end.status, 'canceled');
  assert.ok(end.progress.step < 150);
  assert.equal((await alice.del(`/v1/jobs/${long.body.id}`)).body.status, 'canceled');
});

test('webhooks are signed per Standard Webhooks and retried after a 500', async () => {
  const alice = client(gateway.url);
  const received: { headers: Record<string, string>; body: string; status: number }[] = [];
  let failNext = true;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const status = failNext ? 500 : 204;
      failNext = false;
      received.push({ headers: req.headers as Record<string, string>, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const created = await alice.post('/v1/jobs', { ...job, webhook: { url: `http://127.0.0.1:${port}/hook`, events: ['completed'] } });
  await alice.waitForJob(created.body.id);
  await waitFor('a successful delivery', async () => received.find((r) => r.status === 204));
  server.close();
  const verifier = new Webhook(farm.webhookSecret);
  const polled = (await alice.get(`/v1/jobs/${created.body.id}`)).body;
  assert.match(polled.output.images[0], /^\/v1\/images\//);
  for (const r of received) {
    const payload = verifier.verify(r.body, {
      'webhook-id': r.headers['webhook-id'],
      'webhook-timestamp': r.headers['webhook-timestamp'],
      'webhook-signature': r.headers['webhook-signature'],
    }) as any;
    assert.equal(payload.type, 'job.succeeded');
    assert.equal(payload.data.id, created.body.id);
    assert.deepEqual(payload.data.output.images, polled.output.images, 'the webhook shows the image URLs GET shows');
    assert.deepEqual(payload.data.links, polled.links);
  }
  assert.equal(received[0].status, 500);
  assert.equal(received.length, 2);
  assert.throws(() =>
    verifier.verify(received[0].body.replace('succeeded', 'failed'), {
      'webhook-id': received[0].headers['webhook-id'],
      'webhook-timestamp': received[0].headers['webhook-timestamp'],
      'webhook-signature': received[0].headers['webhook-signature'],
    }),
  );
  const deliveries = await waitFor('recorded deliveries', async () => {
    const j = (await alice.get(`/v1/jobs/${created.body.id}`)).body;
    return j.deliveries.length === 2 ? j.deliveries : null;
  });
  assert.deepEqual(
    deliveries.map((d: any) => [d.status, d.ok]),
    [
      [500, false],
      [204, true],
    ],
  );
});

test('metrics in Prometheus format', async () => {
  const r = await client(gateway.url).get('/metrics');
  const text = r.body.toString();
  for (const name of ['farm_queue_jobs', 'farm_workers_live', 'farm_jobs_submitted_total', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds'])
    assert.ok(text.includes(name), name);
  assert.match(text, /farm_workers_live 1/);
});
