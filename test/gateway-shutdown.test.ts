// SIGTERM to a gateway with work in flight: it drains (/readyz 503, Connection: close) while still answering,
// lets a waiting A1111 call finish with its image, ends SSE streams with a retry hint, and exits 0.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { farmEnv, startGatewayProcess, startWorkerProcess, client, waitFor, farmFixture, waitForWorkers } from './helpers/farm';

const fx = farmFixture();

/** GET with node:http so the Connection header is visible (fetch hides hop-by-hop headers). */
function rawGet(url: string): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c) => {
          body += c;
        })
        .on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('SIGTERM under load: drain, in-flight A1111 call finishes, SSE ends with retry, exit 0', async () => {
  const farm = farmEnv({ redisUrl: fx.redis.url, modelsDir: fx.modelsDir, env: { SHUTDOWN_DRAIN_MS: '2000' } });
  const gateway = await startGatewayProcess(farm);
  const worker = startWorkerProcess(farm);
  fx.procs.push(gateway, worker);
  await waitForWorkers(gateway.url);
  const alice = client(gateway.url);

  const long = fetch(`${gateway.url}/sdapi/v1/txt2img`, {
    method: 'POST',
    headers: { authorization: alice.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a long exposure of a river', width: 128, height: 128, steps: 40 }),
  });
  const running = await waitFor('the A1111 job running', async () => {
    const { body } = await alice.get('/v1/jobs');
    return body.jobs.find((j: any) => j.status === 'running');
  });
  const queued = await alice.post('/v1/jobs', { prompt: 'behind it', width: 128, height: 128, steps: 40 });
  const events = await fetch(`${gateway.url}/v1/jobs/${queued.body.id}/events`, { headers: { authorization: alice.auth } });
  assert.equal(events.status, 200);
  const stream = events.text();

  const exited = gateway.kill('SIGTERM');
  const draining = await waitFor(
    '/readyz to report the drain',
    async () => {
      const r = await rawGet(`${gateway.url}/readyz`);
      return r.status === 503 && /shutting down/.test(r.body) ? r : null;
    },
    2000,
  );
  assert.equal(draining.connection, 'close', 'responses during the drain close their connection');
  const stillServing = await alice.get(`/v1/jobs/${running.id}`);
  assert.equal(stillServing.status, 200, 'the gateway still answers while draining');

  const answer = await long;
  assert.equal(answer.status, 200);
  const body = await answer.json();
  assert.equal(body.images.length, 1);
  assert.ok(Buffer.from(body.images[0], 'base64').subarray(1, 4).equals(Buffer.from('PNG')));

  const text = await stream;
  assert.match(text, /event: status/);
  assert.ok(/retry: \d+/.test(text) || /"status":"(succeeded|failed|canceled)"/.test(text), 'the stream ended with a retry hint or the end of the job');
  assert.equal(await exited, 0);
  await assert.rejects(fetch(`${gateway.url}/healthz`), 'the listener is closed');

  const other = await startGatewayProcess(farm);
  fx.procs.push(other);
  const end = await client(other.url).waitForJob(queued.body.id);
  assert.equal(end.status, 'succeeded', 'the job queued behind finished, seen through another gateway');
});
