// Runs in a worker thread: one ControlNet preprocessor call (decode, canny, PNG) per message, off the gateway's
// event loop.
import { parentPort } from 'node:worker_threads';
import { controlMap, controlMapPng } from '@farm/engine/controlnet';

export interface DetectTask {
  id: number;
  image: string;
  module: 'canny' | 'none';
  size: number;
  threshold_a: number;
  threshold_b: number;
  maxInputPixels: number;
}
export type DetectResult = { id: number; png: string } | { id: number; error: string; field?: string; status?: number };

// one image at a time, so memory holds a single map whatever the number of requests
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (t: DetectTask) => {
  queue = queue.then(() => detect(t));
});

async function detect(t: DetectTask): Promise<void> {
  try {
    const map = await controlMap(
      { image: t.image, module: t.module, threshold_a: t.threshold_a, threshold_b: t.threshold_b },
      t.size,
      t.size,
      t.maxInputPixels,
    );
    parentPort!.postMessage({ id: t.id, png: (await controlMapPng(map, t.size, t.size)).toString('base64') } satisfies DetectResult);
  } catch (e) {
    const err = e as Error & { field?: string; status?: number };
    parentPort!.postMessage({ id: t.id, error: err.message, field: err.field, status: err.status } satisfies DetectResult);
  }
}
