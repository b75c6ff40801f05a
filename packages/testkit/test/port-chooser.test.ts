// The port chooser on its own: round-robin, skipping a backend that refuses, half-close both ways, resets passed on,
// health checks taking a backend out of rotation.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { freePort } from '@farm/core';
import { startPortChooser } from '../src/port-chooser';

/** A TCP server that answers each connection with its name, then echoes what it reads until the client ends. */
async function nameServer(name: string): Promise<{ port: number; server: Server }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.write(`${name}:`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

/** Connects, writes `data`, half-closes, and reads everything until the far side ends. */
function exchange(port: number, data: string): Promise<{ text: string; error?: string }> {
  return new Promise((resolve) => {
    const s: Socket = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c) => {
      text += c;
    });
    s.on('end', () => {
      s.end();
      resolve({ text });
    });
    s.on('error', (e) => resolve({ text, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    s.once('connect', () => s.end(data));
  });
}

test('round-robin over the backends; bytes both ways; half-close passed on', async () => {
  const a = await nameServer('a');
  const b = await nameServer('b');
  const chooser = await startPortChooser([a.port, b.port]);
  try {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await exchange(chooser.port, `hello${i}`));
    assert.deepEqual(
      answers.map((x) => x.text),
      ['a:hello0', 'b:hello1', 'a:hello2', 'b:hello3'],
    );
    assert.deepEqual([...chooser.handed.values()], [2, 2]);
    const big = 'x'.repeat(2_000_000);
    assert.equal((await exchange(chooser.port, big)).text.length, big.length + 2, 'a large payload arrives whole');
  } finally {
    await chooser.close();
    a.server.close();
    b.server.close();
  }
});

test('a backend that refuses is skipped; with every backend refusing, the client is dropped without a crash', async () => {
  const a = await nameServer('a');
  const gone = await freePort();
  const chooser = await startPortChooser([gone, a.port]);
  try {
    for (let i = 0; i < 4; i++) assert.equal((await exchange(chooser.port, 'x')).text, 'a:x');
    assert.equal(chooser.handed.get(a.port), 4);
    assert.equal(chooser.handed.get(gone), 0);
    assert.ok(chooser.refused.get(gone)! >= 2, `refused ${chooser.refused.get(gone)}`);
    await new Promise<void>((r) => a.server.close(() => r()));
    const none = await exchange(chooser.port, 'x');
    assert.equal(none.text, '');
    assert.equal(chooser.dropped, 1);
  } finally {
    await chooser.close();
  }
});

test('a backend that resets the connection after reading a request resets the client; the chooser keeps serving', async () => {
  const rude = createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.resetAndDestroy());
  });
  await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
  const a = await nameServer('a');
  const chooser = await startPortChooser([(rude.address() as { port: number }).port, a.port]);
  try {
    const reset = await exchange(chooser.port, 'x');
    assert.equal(reset.error, 'ECONNRESET');
    assert.equal((await exchange(chooser.port, 'y')).text, 'a:y');
    // a client that resets mid-stream does not take the chooser down either
    const s = createConnection({ host: '127.0.0.1', port: chooser.port });
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.resetAndDestroy();
    assert.equal((await exchange(chooser.port, 'z')).text, 'a:z');
  } finally {
    await chooser.close();
    rude.close();
    a.server.close();
  }
});

test('health checks take a backend that answers 503 out of rotation, and put it back when it recovers', async () => {
  let sickReady = true;
  const mk = (name: string, ready: () => boolean) =>
    createHttpServer((req, res) => {
      if (req.url === '/readyz') res.writeHead(ready() ? 200 : 503).end();
      else res.end(name);
    });
  const sick = mk('sick', () => sickReady);
  const well = mk('well', () => true);
  for (const s of [sick, well]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const ports = [sick, well].map((s) => (s.address() as { port: number }).port);
  const chooser = await startPortChooser(ports, { healthPath: '/readyz', healthIntervalMs: 20 });
  const ask = () =>
    new Promise<string>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: chooser.port, path: '/', agent: false }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c) => {
            body += c;
          })
          .on('end', () => resolve(body));
      }).on('error', reject);
    });
  const until = async (what: string, cond: () => boolean) => {
    const end = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    sickReady = false;
    await until('the sick backend out of rotation', () => chooser.healthy().length === 1);
    assert.deepEqual(chooser.healthy(), [ports[1]]);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await ask());
    assert.deepEqual(answers, ['well', 'well', 'well', 'well']);
    sickReady = true;
    await until('the sick backend back in rotation', () => chooser.healthy().length === 2);
    const back = new Set<string>();
    for (let i = 0; i < 4; i++) back.add(await ask());
    assert.deepEqual([...back].sort(), ['sick', 'well']);
  } finally {
    await chooser.close();
    sick.close();
    well.close();
  }
});
