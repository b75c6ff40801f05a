import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ensureTinyModel, txt2imgParams } from '@farm/testkit';
import { EngineThread } from '../src/index';
import { currentThreadId } from '../src/thread/thread-priority';

const linux = process.platform === 'linux';

/** every thread of this process: its kernel id and nice value (field 19 of /proc's stat, after the command name) */
function threads(): { tid: number; nice: number }[] {
  return readdirSync('/proc/self/task').flatMap((t) => {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      return [{ tid: Number(t), nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) }];
    } catch {
      return []; // the thread ended since the folder was listed
    }
  });
}

/** runs lowerThreadPriority(n) for each n in a fresh thread; answers each call's result and the thread's id */
function inThread(nices: number[]): Promise<{ tid: number; answers: (number | null)[] }> {
  const module = new URL('../src/thread/thread-priority.ts', import.meta.url).href;
  const code = `import('tsx/esm/api').then(async (t) => { t.register(); const m = await import(${JSON.stringify(module)});
    const { parentPort, workerData } = await import('node:worker_threads');
    parentPort.postMessage({ tid: m.currentThreadId(), answers: workerData.map((n) => m.lowerThreadPriority(n)) });
    await new Promise((r) => parentPort.once('message', r)); })`;
  const w = new Worker(code, { eval: true, workerData: nices });
  return new Promise((resolve, reject) => {
    w.once('message', (m: { tid: number; answers: (number | null)[] }) => {
      // read while the thread still lives, then let it end (a failed check fails the test through the promise)
      try {
        const seen = threads().find((t) => t.tid === m.tid);
        assert.ok(seen, 'the thread is listed under /proc/self/task');
        assert.equal(seen.nice, m.answers.at(-1));
        resolve(m);
      } catch (e) {
        reject(e as Error);
      } finally {
        w.postMessage('end');
      }
    });
    w.once('error', reject);
  });
}

test.skipIf(!linux)('a thread lowers its own priority only: the calling thread keeps its nice value, and a lower value never raises it again', async () => {
  const own = getPriority(currentThreadId()!);
  const { tid, answers } = await inThread([Math.min(19, own + 5), own + 2]);
  assert.notEqual(tid, currentThreadId());
  assert.deepEqual(answers, [Math.min(19, own + 5), Math.min(19, own + 5)]);
  assert.equal(getPriority(currentThreadId()!), own);
});

test.skipIf(!linux)("the engine thread runs at its nice value, and so do onnxruntime's compute threads it starts", async () => {
  const { modelsDir } = await ensureTinyModel();
  const own = getPriority(currentThreadId()!);
  const nice = Math.min(19, own + 7);
  const before = new Set(threads().map((t) => t.tid));
  const engine = new EngineThread({ modelsDir, maxPixels: 256 * 256, maxSteps: 50, intraOpThreads: 3 }, { nice });
  try {
    await engine.generate([{ id: 'a', params: txt2imgParams({ steps: 2, seed: 1 }) }]);
    const niced = threads().filter((t) => !before.has(t.tid) && t.nice === nice);
    // the engine thread, and per session two more compute threads (intraOpThreads 3: the caller is the third)
    assert.ok(niced.length >= 3, `${niced.length} new threads at nice ${nice}`);
    assert.equal(getPriority(currentThreadId()!), own);
  } finally {
    await engine.close();
  }
});
