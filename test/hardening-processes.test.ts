// Issue 19, defects 8 and 9, on real processes: with Redis gone a gateway answers 503 at once (no 60 s wait), and
// a SIGTERMed gateway still exits; a worker with no model warns instead of saying plainly "ready".
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { farmEnv, startGatewayProcess, client, farmFixture, waitFor } from './helpers/farm';

const fx = farmFixture();
const root = new URL('..', import.meta.url).pathname;

test('Redis gone: POST /v1/jobs and A1111 calls answer 503 naming Redis; SIGTERM still ends the gateway', async () => {
  const farm = farmEnv({ redisUrl: fx.redis.url, modelsDir: fx.modelsDir, env: { SHUTDOWN_TIMEOUT_MS: '1000' } });
  const gateway = await startGatewayProcess(farm);
  fx.procs.push(gateway);
  const alice = client(gateway.url);
  assert.equal((await alice.get('/v1/jobs')).status, 200, 'the gateway has talked to Redis');
  await fx.redis.kill();
  for (const [path, body] of [
    ['/v1/jobs', { prompt: 'x', width: 64, height: 64, steps: 2 }],
    ['/sdapi/v1/txt2img', { prompt: 'x', width: 64, height: 64, steps: 2 }],
  ] as const) {
    const res = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: alice.auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(res.status, 503, path);
    assert.match(JSON.stringify(await res.json()), /Redis/, path);
  }
  assert.equal(await gateway.kill('SIGTERM'), 0, 'the gateway exits by itself while Redis is down');
  await fx.redis.restart();
});

test('a worker whose MODELS_DIR is empty warns that it can run nothing', async () => {
  const farm = farmEnv({ redisUrl: fx.redis.url, modelsDir: mkdtempSync(join(tmpdir(), 'no-models-')), env: { LOG_LEVEL: 'info' } });
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'packages/worker/src/bin.ts')], {
    cwd: root,
    env: farm.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  const line = await waitFor('the worker to report in', async () => output.split('\n').find((l) => /worker ready/.test(l)));
  const entry = JSON.parse(line) as { level: number; msg: string };
  assert.equal(entry.level, 40, 'logged as a warning');
  assert.match(entry.msg, /no model/);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
