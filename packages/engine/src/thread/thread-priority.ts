// The engine thread's scheduling priority. Its compute (onnxruntime, LoRA merges, PNG encoding) shares the host's
// cores with the process's event loop, which takes jobs, renews their locks and answers cancels, and often with Redis
// and a gateway. Those wait for a core behind compute of the same priority: on a 2-core host with 4 workers in one
// process the event loop waited up to 32 ms for one (from /proc's schedstat), and jobs waited for it while a worker
// sat idle. A higher nice value on the engine's threads alone lets everything else go first, and costs nothing when
// the cores are free.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** This thread's kernel id (Linux: /proc/thread-self names it), null where there is no such path. */
export function currentThreadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/**
 * Sets the calling thread's nice value to `nice` (threads it starts later, such as onnxruntime's compute threads,
 * inherit it). Never raises the priority (that needs privileges): a thread already at `nice` or above keeps its own.
 * Answers the thread's nice value afterwards, or null where threads cannot be told apart (not Linux); a refusal
 * leaves the thread as it was.
 */
export function lowerThreadPriority(nice: number): number | null {
  const tid = currentThreadId();
  if (tid === null) return null;
  try {
    if (nice > getPriority(tid)) setPriority(tid, Math.min(19, nice));
  } catch {
    /* a sandbox that forbids it: the engine runs at the process's priority, as before */
  }
  return getPriority(tid);
}
