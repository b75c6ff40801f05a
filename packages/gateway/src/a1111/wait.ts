// Waits for a job to end by listening to its envelope changes (no polling), with a slow probe beside it so the wait
// cannot hang: a job whose record or queue entry is gone ends the wait with "lost", and one that no live worker can
// run for `graceMs` (or while Redis stays unreachable that long) is canceled and ends it with a 503 naming why.
import { UnavailableError } from '@farm/core';
import type { FarmQueue, JobEnvelope } from '@farm/queue';
import { isTerminal } from '@farm/queue';
import { liveWorkerProblem } from '../guards/live-worker';

export class ClientGoneError extends Error {
  constructor() {
    super('client went away');
  }
}

export interface WaitOptions {
  probeMs?: number;
  graceMs?: number;
}

export async function waitForJob(queue: FarmQueue, id: string, signal?: AbortSignal, opts: WaitOptions = {}): Promise<JobEnvelope> {
  let unsubscribe: (() => Promise<void>) | null = null;
  let probe: NodeJS.Timeout | undefined;
  const graceMs = opts.graceMs ?? 30_000;
  try {
    return await new Promise<JobEnvelope>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(new ClientGoneError()));
      const check = (e: JobEnvelope | null) => {
        if (e && isTerminal(e.status)) resolve(e);
      };
      queue.subscribe(id, check).then(async (u) => {
        unsubscribe = u;
        check(await queue.get(id));
      }, reject);
      let missingSeen = 0;
      let troubleSince: number | null = null;
      let probing = false;
      probe = setInterval(() => {
        if (probing) return;
        probing = true;
        void (async () => {
          let trouble: string | null;
          try {
            const e = await queue.get(id);
            const state = e && !isTerminal(e.status) ? await queue.jobState(id) : null;
            if (e === null || state === 'unknown') {
              // seen twice in a row: a job removed by a cancel has its envelope updated a moment later
              if (++missingSeen >= 2)
                return reject(new UnavailableError(`job ${id} was lost: its ${e === null ? 'record' : 'queue entry'} is gone from Redis`));
              return;
            }
            missingSeen = 0;
            if (isTerminal(e.status)) return resolve(e);
            trouble = liveWorkerProblem(await queue.workers(), e.input.model);
          } catch (err) {
            trouble = `Redis is unreachable (${(err as Error).message})`;
          }
          if (!trouble) {
            troubleSince = null;
            return;
          }
          troubleSince ??= Date.now();
          if (Date.now() - troubleSince < graceMs) return;
          await queue.cancel(id).catch(() => {});
          reject(new UnavailableError(`${trouble}; job ${id} waited ${Math.round(graceMs / 1000)} s and was canceled`));
        })().finally(() => {
          probing = false;
        });
      }, opts.probeMs ?? 2000);
    });
  } finally {
    clearInterval(probe);
    await (unsubscribe as (() => Promise<void>) | null)?.();
  }
}
