// A value read from a file once per version of the file (its mtime), for what a worker checks on every job: the
// file is looked at again at most once per RECHECK_MS, so a job's validation costs no syscalls (a stat per file per
// job was ~0.1 ms on the job's path to the engine on a busy 2-core machine). A file replaced in place is noticed
// within that second; one that is gone still fails when its model is loaded.
import { statSync } from 'node:fs';

const RECHECK_MS = 1000;

export function perFileVersion<T>(read: (path: string) => T, recheckMs = RECHECK_MS): (path: string) => T {
  const cache = new Map<string, { mtimeMs: number; checkedAt: number; value: T }>();
  return (path) => {
    const now = performance.now();
    const hit = cache.get(path);
    if (hit && now - hit.checkedAt < recheckMs) return hit.value;
    const mtimeMs = statSync(path).mtimeMs;
    if (hit?.mtimeMs === mtimeMs) {
      hit.checkedAt = now;
      return hit.value;
    }
    const value = read(path);
    cache.set(path, { mtimeMs, checkedAt: now, value });
    return value;
  };
}
