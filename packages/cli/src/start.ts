// npm start: everything on one machine. Redis (spawned unless REDIS_URL is set), the tiny demo models (tiny and the
// Chinese tiny-taiyi, generated when MODELS_DIR has none), a gateway and a worker as child processes. Ctrl-C stops them all.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@farm/core';
import { generateModelAtomically } from '@farm/modelgen';
import { hashPassword } from '@farm/gateway';
import { ensureRedisServerInstalled, launchRedis } from './redis-launcher';

const log = (line: string) => console.log(`[start] ${line}`);
const here = fileURLToPath(new URL('.', import.meta.url));
const children: ChildProcess[] = [];
let redisProcess: ChildProcess | null = null;

function terminate(list: ChildProcess[]): Promise<unknown> {
  const alive = list.filter((c) => c.exitCode === null && c.signalCode === null);
  return Promise.race([
    Promise.all(
      alive.map(
        (c) =>
          new Promise((r) => {
            c.once('exit', r);
            c.kill('SIGTERM');
          }),
      ),
    ),
    new Promise((r) => setTimeout(r, 60_000)),
  ]);
}

function run(role: 'gateway' | 'worker', env: NodeJS.ProcessEnv, name: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, '../..', role, 'src/bin.ts')], {
    env,
    cwd: join(here, '../../..'),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping');
  await terminate(children);
  if (redisProcess) await terminate([redisProcess]);
  process.exit(code);
}

try {
  const config = loadConfig();
  const env: NodeJS.ProcessEnv = { ...process.env };
  const modelsDir = resolve(config.MODELS_DIR);
  const hasModel = existsSync(modelsDir) && readdirSync(modelsDir).some((n) => existsSync(join(modelsDir, n, 'unet/model.onnx')));
  if (!hasModel) {
    log(`no model in ${modelsDir}; generating the tiny demo models (tiny, and tiny-taiyi with a Chinese BERT text encoder)`);
    await generateModelAtomically({ preset: 'tiny', outDir: join(modelsDir, 'tiny'), seed: 1 });
    await generateModelAtomically({ preset: 'tiny-taiyi', outDir: join(modelsDir, 'tiny-taiyi'), seed: 1, controlnet: false });
  }
  env.MODELS_DIR = modelsDir;
  if (!config.REDIS_URL) {
    ensureRedisServerInstalled(log);
    const redis = await launchRedis(config.DATA_DIR);
    redisProcess = redis.process;
    env.REDIS_URL = redis.url;
    log(`redis-server on ${redis.url} (AOF under ${resolve(config.DATA_DIR, 'redis')})`);
  }
  if (!config.AUTH_USERS && !config.AUTH_API_KEYS && !config.AUTH_DISABLED) {
    const password = randomBytes(9).toString('base64url');
    env.AUTH_USERS = `admin:${hashPassword(password)}`;
    log(`no AUTH_USERS configured: log in as admin / ${password} (set AUTH_USERS or AUTH_DISABLED=true to change this)`);
  }
  // one machine, no load balancer to leave: Ctrl-C need not wait for a drain unless one is asked for
  env.SHUTDOWN_DRAIN_MS ??= '0';
  // a person reads these logs: human-readable lines unless LOG_FORMAT says otherwise
  env.LOG_FORMAT ??= 'pretty';
  run('worker', env, 'worker');
  run('gateway', env, 'gateway');
  log(`open http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}/ (Ctrl-C stops everything)`);
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
} catch (e) {
  console.error(`[start] ${(e as Error).message}`);
  await stop(1);
}
