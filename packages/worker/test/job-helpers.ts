// Shared by the worker tests: tiny txt2img params and a wait on a job's envelope changes (pub/sub, no polling).
import { isTerminal, type GenerationParams } from '@farm/core';
import type { FarmQueue, JobEnvelope } from '@farm/queue';

export function tinyParams(overrides: Partial<GenerationParams> = {}): GenerationParams {
  return {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a harbour at dawn',
    negative_prompt: '',
    sampler: 'Euler a',
    scheduler: 'Automatic',
    steps: 6,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 1,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
    ...overrides,
  };
}

export function until(queue: FarmQueue, id: string, done: (e: JobEnvelope) => boolean, timeoutMs = 60_000): Promise<JobEnvelope> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${id} did not reach the state in time`)), timeoutMs);
    let unsubscribe: (() => Promise<void>) | null = null;
    const check = (e: JobEnvelope | null) => {
      if (e && done(e)) {
        clearTimeout(timer);
        void unsubscribe?.();
        resolve(e);
      }
    };
    queue.subscribe(id, check).then(async (u) => {
      unsubscribe = u;
      check(await queue.get(id));
    }, reject);
  });
}

export const terminal = (e: JobEnvelope) => isTerminal(e.status);
