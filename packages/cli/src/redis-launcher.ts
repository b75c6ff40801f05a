// For `npm start` without REDIS_URL: a private redis-server on loopback with AOF persistence under DATA_DIR.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import { freePort } from '@farm/core';

function hasRedisServer(): boolean {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0;
}

export function ensureRedisServerInstalled(log: (line: string) => void): void {
  if (hasRedisServer()) return;
  if (process.getuid?.() !== 0) {
    throw new Error('redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server) or set REDIS_URL to an existing Redis.');
  }
  log('redis-server is missing; installing it with apt-get');
  const update = spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
  const install = spawnSync('apt-get', ['install', '-y', '-q', 'redis-server'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (update.status !== 0 || install.status !== 0 || !hasRedisServer())
    throw new Error('installing redis-server with apt-get failed; install it by hand or set REDIS_URL');
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        done(true);
      });
      s.on('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function launchRedis(dataDir: string): Promise<{ url: string; process: ChildProcess }> {
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  // its own process group: a terminal's Ctrl-C must not stop Redis before the worker has finished with it
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore', detached: true },
  );
  await waitForPort(port, 10_000);
  return { url: `redis://127.0.0.1:${port}`, process: child };
}
