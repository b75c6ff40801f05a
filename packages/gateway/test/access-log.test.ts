// The access log: one line per request with method, route, path, status, ms, user and request id (the caller's
// X-Request-Id when sane, echoed back), the job id of a submission, and a level by status (probes at debug).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { accessLog } from '../src/access-log';

test("a line per request, at a level by status, with the submission's job id and the request id", async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const app = express();
  app.use(accessLog(logger));
  app.use((req, _res, next) => {
    req.user = { id: 'alice' } as never;
    next();
  });
  app.post('/v1/jobs', (_req, res) => {
    res.status(202).location('/v1/jobs/abc-123').json({ id: 'abc-123' });
  });
  app.get('/v1/jobs/:id', (_req, res) => {
    res.status(404).json({ error: 'no' });
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const submit = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'x-request-id': 'client-req-1' } });
    assert.equal(submit.headers.get('x-request-id'), 'client-req-1');
    const missing = await fetch(`${base}/v1/jobs/zzz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    const generated = missing.headers.get('x-request-id')!;
    assert.match(generated, /^[0-9a-f-]{36}$/, 'an unsafe request id is replaced');
    await (await fetch(`${base}/healthz`)).arrayBuffer();
    await (await fetch(`${base}/boom`)).arrayBuffer();
    await new Promise((r) => setImmediate(r));
    const [a, b, c, d] = lines;
    assert.equal(lines.length, 4);
    assert.deepEqual(
      [a.level, a.method, a.route, a.path, a.status, a.user, a.req_id, a.job_id],
      [30, 'POST', '/v1/jobs', '/v1/jobs', 202, 'alice', 'client-req-1', 'abc-123'],
    );
    assert.equal(typeof a.ms, 'number');
    assert.deepEqual([b.level, b.route, b.path, b.status, b.req_id], [40, '/v1/jobs/:id', '/v1/jobs/zzz', 404, generated]);
    assert.deepEqual([c.level, c.path], [20, '/healthz']);
    assert.deepEqual([d.level, d.status], [50, 500]);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
