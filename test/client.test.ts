// @farm/client against a real farm (gateway and worker processes, Redis): submit, wait with progress over SSE and by
// polling, download, list, cancel, errors, and a signed webhook verified with verifyWebhook. Its Job type is checked
// against the gateway's OpenAPI document and against what the gateway really sends.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import sharp from 'sharp';
import { FarmApiError, FarmClient, verifyWebhook, type Job } from '@farm/client';
import { USERS, farmEnv, farmFixture, startGatewayProcess, startWorkerProcess, waitFor, type FarmEnv } from './helpers/farm';

const fixture = farmFixture();
let farm: FarmEnv;
let url: string;
let farmClient: FarmClient;
const small = { prompt: 'a lighthouse', width: 64, height: 64, steps: 3, model: 'tiny' };

// every key of the client's Job type, checked both ways at compile time
const JOB_KEYS = [
  'id',
  'owner',
  'status',
  'input',
  'output',
  'error',
  'progress',
  'queue_position',
  'webhook',
  'deliveries',
  'cancel_requested',
  'created_at',
  'started_at',
  'completed_at',
  'worker_id',
  'attempts',
  'batch_size',
  'request_id',
  'metrics',
  'links',
] as const satisfies readonly (keyof Job)[];
type MissingFromList = Exclude<keyof Job, (typeof JOB_KEYS)[number]>;
const exhaustive: MissingFromList extends never ? true : false = true;

// farmFixture's own `before` has to have run first: set up lazily from the first test
let started: Promise<void> | undefined;
const ready = () =>
  (started ??= (async () => {
    farm = farmEnv({ redisUrl: fixture.redis.url, modelsDir: fixture.modelsDir });
    fixture.procs.push(startWorkerProcess(farm));
    const gateway = await startGatewayProcess(farm);
    fixture.procs.push(gateway);
    url = gateway.url;
    farmClient = new FarmClient({ baseUrl: url, username: 'alice', password: USERS.alice });
  })());

test('run: submit and wait over SSE, with every step reported in order; download the PNG', async () => {
  await ready();
  const steps: number[] = [];
  const statuses: string[] = [];
  const job = await farmClient.run(
    { ...small, seed: 11 },
    {
      onUpdate: (j) => statuses.push(j.status),
      onProgress: (p) => steps.push(p.step),
    },
  );
  assert.equal(job.status, 'succeeded', job.error ?? '');
  assert.equal(statuses.at(-1), 'succeeded');
  assert.ok(steps.length > 0, 'no progress reported');
  assert.deepEqual(
    steps,
    [...steps].sort((a, b) => a - b),
    'progress went backwards',
  );
  assert.ok(steps.every((s) => s >= 0 && s <= 3));
  const png = await farmClient.download(job);
  const meta = await sharp(Buffer.from(png)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 64]);
});

test('wait by polling gives the same end state as the stream', async () => {
  await ready();
  const submitted = await farmClient.submit({ ...small, seed: 12 });
  assert.equal(submitted.status, 'queued');
  const polled = await farmClient.wait(submitted.id, { transport: 'poll', pollIntervalMs: 50 });
  const streamed = await farmClient.wait(submitted.id); // already ended: the stream sends the final state at once
  assert.equal(polled.status, 'succeeded');
  assert.deepEqual(streamed.output, polled.output);
});

test('the Job type names exactly the fields the gateway sends and the OpenAPI document lists', async () => {
  await ready();
  assert.equal(exhaustive, true);
  const { jobs } = await farmClient.list({ limit: 1 });
  assert.ok(jobs.length === 1);
  assert.deepEqual(
    Object.keys(jobs[0]).filter((k) => !(JOB_KEYS as readonly string[]).includes(k)),
    [],
    'the gateway sends fields the client does not type',
  );
  assert.deepEqual(
    JOB_KEYS.filter((k) => !(k in jobs[0])),
    [],
    'the client types fields the gateway does not send',
  );
  const doc = await (await fetch(`${url}/openapi.json`, { headers: { authorization: `Basic ${btoa(`alice:${USERS.alice}`)}` } })).json();
  const documented = Object.keys(doc.components.schemas.Job.properties ?? {});
  assert.deepEqual(
    documented.filter((k) => !(JOB_KEYS as readonly string[]).includes(k)),
    [],
    'OpenAPI documents Job fields the client lacks',
  );
});

test('errors: a bad request is a FarmApiError naming the field; an unknown job is 404; cancel ends a queued job', async () => {
  await ready();
  const failure = async (call: Promise<unknown>) =>
    call.then(
      () => assert.fail('did not throw'),
      (e: unknown) => {
        assert.ok(e instanceof FarmApiError, String(e));
        return e;
      },
    );
  const bad = await failure(farmClient.submit({ ...small, width: 100 }));
  assert.deepEqual([bad.status, bad.field], [422, 'width'], bad.message);
  assert.equal((await failure(farmClient.get('no-such-job'))).status, 404);
  const wrong = new FarmClient({ baseUrl: url, username: 'alice', password: 'wrong' });
  assert.equal((await failure(wrong.list())).status, 401);
  // 40 steps: still queued or running when the cancel arrives
  const job = await farmClient.submit({ ...small, steps: 40, seed: 13 });
  const canceled = await farmClient.cancel(job.id);
  // ended at once, or (running, or fetched by a worker but not started yet) asked to stop
  assert.ok(canceled.status === 'canceled' || canceled.cancel_requested, `${canceled.status}, cancel_requested ${canceled.cancel_requested}`);
  const ended = await farmClient.wait(job.id, { timeoutMs: 60_000 });
  assert.equal(ended.status, 'canceled');
});

test('a completed-job webhook verifies with verifyWebhook, and a tampered one does not', async () => {
  await ready();
  const received: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ body, headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const job = await farmClient.run({ ...small, seed: 14, webhook: { url: `http://127.0.0.1:${port}/hook`, events: ['completed'] } });
    const delivery = await waitFor('the webhook', async () => received[0]);
    const payload = verifyWebhook(farm.webhookSecret, delivery.body, delivery.headers);
    assert.equal(payload.type, 'job.succeeded');
    assert.equal(payload.data.id, job.id);
    assert.throws(() => verifyWebhook(farm.webhookSecret, delivery.body.replace(job.id, 'x'.repeat(job.id.length)), delivery.headers));
    assert.throws(() => verifyWebhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`, delivery.body, delivery.headers));
  } finally {
    server.close();
  }
});
