import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Server } from '@farm/testkit';
import { createStorage, imageKey, type Storage } from '../src/index';

const s3 = await startS3Server();
afterAll(() => s3.stop());

const adapters: [string, Storage][] = [
  ['fs', createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'fs-storage-')) })],
  ['s3', createStorage(s3.config)],
];

for (const [name, storage] of adapters) {
  test(`${name}: put, get, overwrite, delete`, async () => {
    const body = Buffer.from([1, 2, 3, 250]);
    await storage.put('images/job-1/0.png', body, 'image/png');
    assert.deepEqual(await storage.get('images/job-1/0.png'), body);
    await storage.put('images/job-1/0.png', Buffer.from('second'), 'image/png');
    assert.equal((await storage.get('images/job-1/0.png'))!.toString(), 'second');
    assert.equal(await storage.get('images/missing/0.png'), null);
    await storage.delete('images/job-1/0.png');
    assert.equal(await storage.get('images/job-1/0.png'), null);
  });

  test(`${name}: a body of several MiB round-trips whole, beside a small one in a new folder`, async () => {
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    await Promise.all([storage.put('images/job-3/0.png', big, 'image/png'), storage.put('images/job-4/0.png', Buffer.from('small'), 'image/png')]);
    assert.ok(big.equals((await storage.get('images/job-3/0.png'))!));
    assert.equal((await storage.get('images/job-4/0.png'))!.toString(), 'small');
  });

  test(`${name}: keys that escape the root are refused`, async () => {
    for (const key of ['../etc/passwd', '/abs/key', 'a//b', 'a/../b']) {
      await assert.rejects(storage.put(key, Buffer.from('x'), 'text/plain'), /invalid storage key/);
    }
  });
}

test('fs: prepare makes the folder of a key ahead of its put (and nothing else); a bad key is not made', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-prepare-'));
  const storage = createStorage({ kind: 'fs', dir });
  const key = imageKey('job-9', 0);
  assert.equal(key, 'images/job-9/0.png');
  await storage.prepare!(key);
  assert.ok(existsSync(join(dir, 'images/job-9')));
  assert.deepEqual(readdirSync(join(dir, 'images/job-9')), []);
  await storage.put(key, Buffer.from('png'), 'image/png');
  assert.equal((await storage.get(key))!.toString(), 'png');
  await assert.rejects(storage.prepare!('../outside/0.png'), /invalid storage key/);
});

test('s3: a signed URL fetches the object over plain HTTP', async () => {
  const storage = adapters[1][1];
  await storage.put('images/job-2/0.png', Buffer.from('signed body'), 'image/png');
  const url = await storage.signedUrl('images/job-2/0.png', 60);
  assert.ok(url && url.includes('X-Amz-Signature'));
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'signed body');
  assert.equal(await adapters[0][1].signedUrl('images/job-2/0.png', 60), null);
});
