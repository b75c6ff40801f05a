// Calls that wait for their images (the A1111 API) need a live worker that has the model; without one they would
// wait for minutes. This answers 503 at once, naming what is missing. A native submission only warns, so it may
// judge by a list of workers up to a second old (`recentWorkers`) instead of reading Redis on every POST.
import { UnavailableError } from '@farm/core';
import type { FarmQueue, WorkerInfo } from '@farm/queue';

/** What keeps a job for `model` from starting, judged from the live workers (null: one of them has the model). */
export function liveWorkerProblem(workers: WorkerInfo[], model: string): string | null {
  if (workers.length === 0) return 'no live worker: no worker process is running (or none has reported in the last 15 s)';
  if (!workers.some((w) => w.models.includes(model)))
    return `no live worker has the model "${model}" (${workers.length} live worker${workers.length === 1 ? '' : 's'} with: ${[...new Set(workers.flatMap((w) => w.models))].join(', ') || 'no models'})`;
  return null;
}

export async function assertLiveWorkerFor(queue: FarmQueue, model: string): Promise<void> {
  const problem = liveWorkerProblem(await queue.workers(), model);
  if (problem) throw new UnavailableError(problem);
}

/** The live workers, read from Redis at most once per `maxAgeMs` (a failed read is not kept). */
export function recentWorkers(queue: Pick<FarmQueue, 'workers'>, maxAgeMs = 1000): () => Promise<WorkerInfo[]> {
  let cached: { at: number; workers: Promise<WorkerInfo[]> } | null = null;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > maxAgeMs) {
      const entry = { at: now, workers: queue.workers() };
      cached = entry;
      entry.workers.catch(() => {
        if (cached === entry) cached = null;
      });
    }
    return cached.workers;
  };
}
