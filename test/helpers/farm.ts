// Runs gateway and worker processes the way a deployment does (npm run gateway / npm run worker), for
// cross-process tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { beforeAll, afterAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { freePort } from '@farm/core';
import { hashPassword, generateWebhookSecret } from '@farm/gateway';
import { startRedis, ensureTinyModel, type RedisServer } from '@farm/testkit';

const root = new URL('../..', import.meta.url).pathname;

export const USERS = { alice: 'alice-password', bob: 'bob-password' };
const authUsers = Object.entries(USERS)
  .map(([u, p]) => `${u}:${hashPassword(p, { N: 1024, r: 8, p: 1 })}`)
  .join(',');

export interface FarmEnv {
  env: NodeJS.ProcessEnv;
  webhookSecret: string;
}

export function farmEnv(opts: { redisUrl: string; modelsDir: string; storage?: Record<string, string>; env?: Record<string, string> }): FarmEnv {
  const webhookSecret = generateWebhookSecret();
  return {
    webhookSecret,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: opts.redisUrl,
      QUEUE_PREFIX: `e2e${randomUUID().slice(0, 8)}`,
      MODELS_DIR: opts.modelsDir,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'farm-data-')),
      AUTH_USERS: authUsers,
      WEBHOOK_SECRET: webhookSecret,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'warn',
      MAX_BATCH: '4',
      WORKER_LOCK_MS: '3000',
      WORKER_STALLED_MS: '1000',
      // tests poll often and submit in bursts; the limits have tests of their own
      RATE_LIMIT_REQUESTS: '0',
      RATE_LIMIT_SUBMITS: '0',
      MAX_QUEUED_PER_USER: '100000',
      SHUTDOWN_DRAIN_MS: '0',
      ...opts.storage,
      ...opts.env,
    },
  };
}

export interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a role's entry point from `appRoot`: this checkout, or a production install of it (scripts/prod-install.mjs). */
function launch(role: 'gateway' | 'worker', env: NodeJS.ProcessEnv, appRoot = root): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(appRoot, 'packages', role, 'src/bin.ts')], {
    cwd: appRoot,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the gateway's /readyz reports at least `n` live workers (readiness itself does not need one). */
export async function waitForWorkers(url: string, n = 1, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `${n} live worker(s)`,
    async () => {
      const r = await fetch(`${url}/readyz`);
      return r.status === 200 && ((await r.json()) as { workers: number }).workers >= n;
    },
    timeoutMs,
  );
}

export async function startGatewayProcess(farm: FarmEnv, appRoot?: string): Promise<Proc & { url: string }> {
  const port = await freePort();
  const proc = launch('gateway', { ...farm.env, PORT: String(port) }, appRoot);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('gateway /healthz', async () => (await fetch(`${url}/healthz`)).ok);
  return { ...proc, url };
}

export function startWorkerProcess(farm: FarmEnv, appRoot?: string): Proc {
  return launch('worker', farm.env, appRoot);
}

export function client(url: string, user: keyof typeof USERS = 'alice') {
  const auth = `Basic ${Buffer.from(`${user}:${USERS[user]}`).toString('base64')}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, headers: res.headers, body: type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer()) } as {
      status: number;
      headers: Headers;
      body: any;
    };
  };
  return {
    auth,
    get: (path: string) => call('GET', path),
    post: (path: string, body: unknown) => call('POST', path, body),
    del: (path: string) => call('DELETE', path),
    async waitForJob(id: string, done: (job: any) => boolean = (j) => ['succeeded', 'failed', 'canceled'].includes(j.status), timeoutMs = 90_000) {
      return waitFor(
        `job ${id}`,
        async () => {
          const r = await call('GET', `/v1/jobs/${id}`);
          return r.status === 200 && done(r.body) ? r.body : null;
        },
        timeoutMs,
      );
    },
  };
}

export interface FarmFixture {
  redis: RedisServer;
  modelsDir: string;
  procs: Proc[];
}

/** Registers the hooks of a process-level test file: a private Redis and the tiny model before, and after, SIGKILL
 *  for every process pushed onto `procs` and the end of that Redis. Fields are set once `before` has run. */
export function farmFixture(): FarmFixture {
  const fixture = { procs: [] as Proc[] } as FarmFixture;
  beforeAll(async () => {
    fixture.redis = await startRedis();
    fixture.modelsDir = (await ensureTinyModel()).modelsDir;
  });
  afterAll(async () => {
    for (const p of fixture.procs) await p.kill('SIGKILL');
    await fixture.redis?.stop();
  });
  return fixture;
}
