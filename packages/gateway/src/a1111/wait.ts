// Waits for a job to end by listening to its envelope changes (no polling).
import type { FarmQueue, JobEnvelope } from '@farm/queue';
import { isTerminal } from '@farm/queue';

export async function waitForJob(queue: FarmQueue, id: string, signal?: AbortSignal): Promise<JobEnvelope> {
  let unsubscribe: (() => Promise<void>) | null = null;
  try {
    return await new Promise<JobEnvelope>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(new Error('client went away')));
      const check = (e: JobEnvelope | null) => { if (e && isTerminal(e.status)) resolve(e); };
      queue.subscribe(id, check).then(async (u) => { unsubscribe = u; check(await queue.get(id)); }, reject);
    });
  } finally {
    await (unsubscribe as (() => Promise<void>) | null)?.();
  }
}
