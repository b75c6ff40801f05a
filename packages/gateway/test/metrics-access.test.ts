// /metrics for a scraper: METRICS_TOKEN as a Bearer token passes without a user login; anything else goes through
// the login like every other route.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { metricsAccess } from '../src/metrics-access';

const login: RequestHandler = (req, res, next) => {
  if (req.headers['x-user']) {
    next();
    return;
  }
  res.status(401).json({ error: { code: 'unauthorized', message: 'login required' } });
};

async function serve(token: string | undefined) {
  const app = express();
  app.get('/metrics', metricsAccess(token, login), (_req, res) => {
    res.type('text/plain').send('farm_up 1\n');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  return { url, close: () => new Promise((r) => server.close(r)) };
}

test('the metrics token passes, a wrong one or none falls back to the login', async () => {
  const token = 'scrape-token-0123456789';
  const { url, close } = await serve(token);
  try {
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}x` } })).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token.slice(0, -1)}` } })).status, 401);
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { 'x-user': 'alice' } })).status, 200);
  } finally {
    await close();
  }
});

test('without METRICS_TOKEN no Bearer value opens /metrics by itself', async () => {
  const { url, close } = await serve(undefined);
  try {
    assert.equal((await fetch(url, { headers: { authorization: 'Bearer anything-at-all-here' } })).status, 401);
  } finally {
    await close();
  }
});
