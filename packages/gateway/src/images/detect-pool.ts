// ControlNet preprocessing for /controlnet/detect on one worker thread (started on first use), so a large request
// never blocks the event loop: images are processed one at a time, each request's images in order, and a request
// is refused when too many are already waiting. Count and resolution are capped by the caller (detectLimits).
import { Worker } from 'node:worker_threads';
import { UnavailableError, ValidationError } from '@farm/core';
import type { DetectResult, DetectTask } from './detect-thread';

export const DETECT_LIMITS = { maxImages: 8, maxResolution: 2048, maxInputPixels: 4096 * 4096, maxWaitingImages: 64 };

const THREAD_URL = new URL('./detect-thread.ts', import.meta.url).href;
// the thread runs TypeScript sources through tsx, as the process itself does
const BOOTSTRAP = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(THREAD_URL)}); })`;

export class DetectPool {
  private thread: Worker | null = null;
  private nextId = 1;
  private waiting = 0;
  private readonly pending = new Map<number, { resolve(png: string): void; reject(e: Error): void }>();

  private start(): Worker {
    if (this.thread) return this.thread;
    const thread = new Worker(BOOTSTRAP, { eval: true });
    thread.on('message', (r: DetectResult) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if ('png' in r) p.resolve(r.png);
      else p.reject(r.status === 422 ? new ValidationError(r.error, r.field) : new Error(r.error));
    });
    const fail = (e: Error) => {
      this.thread = null;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    thread.on('error', fail);
    thread.on('exit', (code) => fail(new Error(`the preprocessing thread stopped (exit ${code})`)));
    // after the listeners (adding one refs the port again): an idle thread does not keep the process alive
    thread.unref();
    this.thread = thread;
    return thread;
  }

  private one(task: Omit<DetectTask, 'id'>): Promise<string> {
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.start().postMessage({ ...task, id });
    });
  }

  /** Preprocesses the images in order; base64 PNG maps. */
  async run(images: string[], opts: Omit<DetectTask, 'id' | 'image' | 'maxInputPixels'>): Promise<string[]> {
    if (this.waiting + images.length > DETECT_LIMITS.maxWaitingImages)
      throw new UnavailableError(`the preprocessor is busy (${this.waiting} images waiting); try again shortly`);
    this.waiting += images.length;
    let left = images.length;
    try {
      const out: string[] = [];
      for (const image of images) {
        out.push(await this.one({ ...opts, image, maxInputPixels: DETECT_LIMITS.maxInputPixels }));
        left--;
        this.waiting--;
      }
      return out;
    } finally {
      this.waiting -= left;
    }
  }

  async close(): Promise<void> {
    await this.thread?.terminate();
    this.thread = null;
  }
}
