// Starts a private redis-server on a free loopback port so a test can kill and restart it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { freePort } from '@farm/core';

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  /** SIGKILL the server (no shutdown save). */
  kill(): Promise<void>;
  /** Start it again on the same port and dir (AOF replays what was written). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function waitForPing(port: number, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host: '127.0.0.1', port });
      sock.once('error', () => resolve(false));
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not answer PING`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `always`: every write is on disk before Redis answers (the tests' default); `everysec`: as the farm deploys Redis (compose, k8s). */
export type AppendFsync = 'always' | 'everysec';

function launch(port: number, dir: string, appendonly: boolean, appendfsync: AppendFsync): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--dir',
      dir,
      '--appendonly',
      appendonly ? 'yes' : 'no',
      '--appendfsync',
      appendfsync,
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedis(opts: { appendonly?: boolean; appendfsync?: AppendFsync } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'farm-redis-'));
  const appendonly = opts.appendonly ?? true;
  const appendfsync = opts.appendfsync ?? 'always';
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: launch(port, dir, appendonly, appendfsync),
    async kill() {
      server.process.kill('SIGKILL');
      await exited(server.process);
    },
    async restart() {
      server.process = launch(port, dir, appendonly, appendfsync);
      await waitForPing(port);
    },
    async stop() {
      server.process.kill('SIGTERM');
      await exited(server.process);
    },
  };
  await waitForPing(port);
  return server;
}
