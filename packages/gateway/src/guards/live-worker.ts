// Calls that wait for their images (the A1111 API) need a live worker that has the model; without one they would
// wait for minutes. This answers 503 at once, naming what is missing.
import { UnavailableError } from '@farm/core';
import type { FarmQueue } from '@farm/queue';

export async function liveWorkerProblem(queue: FarmQueue, model: string): Promise<string | null> {
  const workers = await queue.workers();
  if (workers.length === 0) return 'no live worker: no worker process is running (or none has reported in the last 15 s)';
  if (!workers.some((w) => w.models.includes(model)))
    return `no live worker has the model "${model}" (${workers.length} live worker${workers.length === 1 ? '' : 's'} with: ${[...new Set(workers.flatMap((w) => w.models))].join(', ') || 'no models'})`;
  return null;
}

export async function assertLiveWorkerFor(queue: FarmQueue, model: string): Promise<void> {
  const problem = await liveWorkerProblem(queue, model);
  if (problem) throw new UnavailableError(problem);
}
