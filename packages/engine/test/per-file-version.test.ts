import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { perFileVersion } from '../src/models/per-file-version';

function fixture() {
  const path = join(mkdtempSync(join(tmpdir(), 'pfv-')), 'f.txt');
  writeFileSync(path, 'one');
  let reads = 0;
  const read = (p: string) => {
    reads++;
    return `${p.length}:${reads}`;
  };
  return { path, read, reads: () => reads };
}

test('a file is read once per version: again only when its mtime changed', () => {
  const f = fixture();
  const get = perFileVersion(f.read, 0); // look at the file on every call
  const first = get(f.path);
  assert.equal(get(f.path), first);
  assert.equal(f.reads(), 1);
  writeFileSync(f.path, 'two');
  utimesSync(f.path, new Date(), new Date(Date.now() + 5000)); // a new mtime even on a coarse clock
  assert.notEqual(get(f.path), first);
  assert.equal(f.reads(), 2);
});

test('within the recheck interval the file is not looked at (a job costs no syscall), after it it is', () => {
  const f = fixture();
  const cached = perFileVersion(f.read, 60_000);
  const value = cached(f.path);
  rmSync(f.path);
  // gone, but not looked at again yet
  assert.equal(cached(f.path), value);
  const eager = perFileVersion(f.read, 0);
  assert.throws(() => eager(f.path), /ENOENT/);
});
