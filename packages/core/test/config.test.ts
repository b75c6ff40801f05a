import { test } from 'vitest';
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { loadConfig, CONFIG_VARIABLES, storageConfig, parseByteSize } from '../src/config';

test('defaults apply to an empty environment', () => {
  const c = loadConfig({});
  assert.equal(c.PORT, 7860);
  assert.equal(c.HOST, '127.0.0.1');
  assert.equal(c.REDIS_URL, undefined);
  assert.equal(c.QUEUE_PREFIX, 'farm');
  assert.equal(c.MAX_BATCH, 4);
  assert.equal(c.MAX_PIXELS, 1048576);
  assert.deepEqual(c.EXECUTION_PROVIDERS, ['cpu']);
  assert.equal(c.SIGNED_URLS, false);
  assert.equal(c.WEBHOOK_ALLOW_PRIVATE, false);
  assert.deepEqual(storageConfig(c), { kind: 'fs', dir: './data/storage' });
});

test('values are coerced from strings; empty strings count as unset', () => {
  const c = loadConfig({
    PORT: '9000',
    SIGNED_URLS: 'true',
    WEBHOOK_ALLOW_PRIVATE: '1',
    EXECUTION_PROVIDERS: 'cuda, cpu',
    MAX_STEPS: '',
    STORAGE: 's3',
    S3_BUCKET: 'renders',
  });
  assert.equal(c.PORT, 9000);
  assert.equal(c.SIGNED_URLS, true);
  assert.equal(c.WEBHOOK_ALLOW_PRIVATE, true);
  assert.deepEqual(c.EXECUTION_PROVIDERS, ['cuda', 'cpu']);
  assert.equal(c.MAX_STEPS, 150);
  assert.equal(storageConfig(c).kind, 's3');
});

for (const [name, value] of [
  ['PORT', 'eighty'],
  ['MAX_BATCH', '0'],
  ['STORAGE', 'ftp'],
  ['EXECUTION_PROVIDERS', 'cpu,tpu'],
  ['WEBHOOK_SECRET', 'hunter2'],
  ['SIGNED_URLS', 'maybe'],
  ['REDIS_URL', 'not a url'],
] as const) {
  test(`a bad ${name} fails with a message naming it`, () => {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: Error) => e.message.includes(name),
    );
  });
}

test('the README table lists every schema variable', () => {
  const names = CONFIG_VARIABLES.flatMap(([n]) => n.split(' / '));
  for (const key of ['PORT', 'HOST', 'REDIS_URL', 'MODELS_DIR', 'STORAGE', 'MAX_QUEUED', 'WEBHOOK_SECRET', 'BODY_LIMIT', 'LOG_LEVEL']) {
    assert.ok(names.includes(key), key);
  }
});

test('SESSION_CACHE_BYTES: bytes or binary suffixes, half the host memory by default, bad values named', () => {
  assert.equal(loadConfig({}).SESSION_CACHE_BYTES, Math.floor(totalmem() / 2));
  assert.equal(loadConfig({ SESSION_CACHE_BYTES: '8G' }).SESSION_CACHE_BYTES, 8 * 1024 * 1024 * 1024);
  assert.equal(parseByteSize('1000'), 1000);
  assert.equal(parseByteSize('512MiB'), 512 * 1024 * 1024);
  assert.equal(parseByteSize('1.5k'), 1536);
  assert.equal(parseByteSize('2 TB'), 2 * 1024 ** 4);
  for (const bad of ['', 'lots', '-5', '0', '8X']) assert.equal(parseByteSize(bad), null, bad);
  assert.throws(() => loadConfig({ SESSION_CACHE_BYTES: 'lots' }), /SESSION_CACHE_BYTES/);
});
