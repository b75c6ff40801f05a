import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis } from '../src/index';

test('startRedis runs a private server that survives kill and restart with AOF', async () => {
  const server = await startRedis();
  const client = new Redis(server.url, { maxRetriesPerRequest: null, lazyConnect: true });
  await client.connect();
  await client.set('k', 'v');
  await server.kill();
  await server.restart();
  assert.equal(await client.get('k'), 'v');
  client.disconnect();
  await server.stop();
});
