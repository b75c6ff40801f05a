// `npm start` on an empty models folder: Redis, the demo model, a gateway and a worker, then a clean Ctrl-C.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@farm/core';
import { waitFor } from './helpers/farm';

const root = new URL('..', import.meta.url).pathname;

test('npm start runs the whole farm and stops cleanly on SIGINT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'npm-start-'));
  const port = await freePort();
  // the command `npm start` runs, started directly so the test can send the terminal's Ctrl-C to its process group
  const [command, ...args] = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start.split(' ');
  assert.equal(command, 'node');
  const child = spawn(process.execPath, args, {
    cwd: root,
    detached: true,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MODELS_DIR: join(dir, 'models'),
      DATA_DIR: join(dir, 'data'),
      PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const password = await waitFor('the printed login', async () => /admin \/ (\S+)/.exec(output)?.[1]);
  await waitFor(
    'a ready farm with a worker',
    async () => {
      const r = await fetch(`${url}/readyz`);
      return r.status === 200 && (await r.json()).workers >= 1;
    },
    90_000,
  );
  assert.ok(existsSync(join(dir, 'models/tiny/unet/model.onnx')), 'the demo model was generated');
  assert.ok(existsSync(join(dir, 'models/tiny-taiyi/tokenizer/vocab.txt')), 'the Chinese demo model was generated beside it');
  const auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`, 'content-type': 'application/json' };
  const created = await (
    await fetch(`${url}/v1/jobs`, { method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'a cat', width: 64, height: 64, steps: 4 }) })
  ).json();
  const job = await waitFor('the job to succeed', async () => {
    const j = await (await fetch(`${url}/v1/jobs/${created.id}`, { headers: auth })).json();
    return j.status === 'succeeded' ? j : null;
  });
  assert.equal(job.output.images.length, 1);
  // a new user sees two models and can switch to the Chinese one
  assert.deepEqual((await (await fetch(`${url}/v1/models`, { headers: auth })).json()).models, ['tiny', 'tiny-taiyi']);
  const chinese = await (
    await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'tiny-taiyi', prompt: '飞流直下三千尺，油画', width: 64, height: 64, steps: 4 }),
    })
  ).json();
  const done = await waitFor('the Chinese job to succeed', async () => {
    const j = await (await fetch(`${url}/v1/jobs/${chinese.id}`, { headers: auth })).json();
    return j.status === 'succeeded' ? j : null;
  });
  assert.equal(done.output.images.length, 1);
  // logs are for a person here: pino-pretty lines, not JSON (a 404 logs at warn, which LOG_LEVEL=warn keeps)
  assert.equal((await fetch(`${url}/v1/jobs/no-such-job`, { headers: auth })).status, 404);
  const line = await waitFor('the access-log line', async () => output.split('\n').find((l) => l.includes('GET /v1/jobs/no-such-job 404')));
  assert.match(line, /WARN/);
  assert.ok(!line.trimStart().startsWith('{'), line);
  process.kill(-child.pid!, 'SIGINT');
  assert.equal(await exited, 0);
  await assert.rejects(fetch(`${url}/healthz`));
});
