// Admission by memory: a request that not one live worker has the memory for is refused here (422 naming the field)
// instead of being queued to take down every worker it lands on. Workers advertise their budget and each model's
// memory profile in their heartbeat; batches are split by the worker, so what must fit is one image.
import { checkFitsMemory, minPromptChunks, renderShapeOf, type GenerationParams } from '@farm/core';
import type { WorkerInfo } from '@farm/queue';

/** Throws a ValidationError when no live worker that advertises its memory can run one image of `p`; passes when none advertises it. */
export function checkMemoryAdmission(workers: Pick<WorkerInfo, 'memoryBudget' | 'memory'>[], p: GenerationParams): void {
  const able = workers.filter((w) => w.memoryBudget !== undefined && w.memory?.[p.model]).sort((a, b) => b.memoryBudget! - a.memoryBudget!);
  if (able.length === 0) return;
  const shape = renderShapeOf(p, Math.max(minPromptChunks(p.prompt), minPromptChunks(p.negative_prompt)), 1);
  let refusal: unknown = null;
  for (const w of able) {
    try {
      checkFitsMemory(
        p.model,
        w.memory![p.model],
        shape,
        w.memoryBudget!,
        able.length === 1 ? "the live worker's memory budget" : "the largest live worker's memory budget",
      );
      return;
    } catch (e) {
      refusal ??= e;
    }
  }
  throw refusal;
}
