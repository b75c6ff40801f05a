// What the Docker images do, without Docker: install each role's production dependencies alone into a fresh folder
// (scripts/prod-install.mjs, the same command the Dockerfiles run), start the gateway and a worker from those folders
// and render one job. Catches dev-only dependencies used at run time, files outside the copied packages, and a
// gateway that would need onnxruntime.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { client, farmEnv, farmFixture, startGatewayProcess, startWorkerProcess } from './helpers/farm';

const root = new URL('..', import.meta.url).pathname;
const fixture = farmFixture();

function prodInstall(role: 'gateway' | 'worker'): string {
  const dest = mkdtempSync(join(tmpdir(), `farm-prod-${role}-`));
  const r = spawnSync(process.execPath, [join(root, 'scripts/prod-install.mjs'), role, dest, '--offline'], {
    encoding: 'utf8',
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  assert.equal(r.status, 0, `prod-install ${role} failed:\n${r.stdout}\n${r.stderr}`);
  return dest;
}

test('a production install of each role starts and renders a job', async () => {
  const gatewayDir = prodInstall('gateway');
  const workerDir = prodInstall('worker');

  // the gateway image carries neither onnxruntime nor the worker, and no dev dependency (no test tooling)
  assert.ok(!existsSync(join(gatewayDir, 'node_modules/onnxruntime-node')), 'gateway install has onnxruntime-node');
  assert.ok(!existsSync(join(gatewayDir, 'packages/worker')), 'gateway install has the worker package');
  assert.ok(existsSync(join(workerDir, 'node_modules/onnxruntime-node')), 'worker install lacks onnxruntime-node');
  for (const dir of [gatewayDir, workerDir]) {
    for (const dev of ['typescript', 'fast-check', 'playwright-core', 's3rver']) {
      assert.ok(!existsSync(join(dir, 'node_modules', dev)), `${dir} has dev dependency ${dev}`);
    }
    const installed = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    assert.ok(!installed.workspaces.includes('packages/testkit'));
  }

  const farm = farmEnv({ redisUrl: fixture.redis.url, modelsDir: fixture.modelsDir });
  fixture.procs.push(startWorkerProcess(farm, workerDir));
  const gateway = await startGatewayProcess(farm, gatewayDir);
  fixture.procs.push(gateway);

  const api = client(gateway.url);
  const submitted = await api.post('/v1/jobs', { prompt: 'a red cube', width: 64, height: 64, steps: 2, seed: 5, model: 'tiny' });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const job = await api.waitForJob(submitted.body.id);
  assert.equal(job.status, 'succeeded', job.error);
  const image = await api.get(new URL(job.output.images[0], gateway.url).pathname);
  assert.equal(image.status, 200);
  const meta = await sharp(image.body).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 64]);
});
