// Repeated timing with warm-up; every figure is a median with its min and max.
import { performance } from 'node:perf_hooks';

export interface Timing {
  median_ms: number;
  min_ms: number;
  max_ms: number;
  p99_ms: number;
  runs: number;
}

export function summarize(samplesMs: number[]): Timing {
  if (samplesMs.length === 0) throw new Error('no samples');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median_ms: median, min_ms: sorted[0], max_ms: sorted[sorted.length - 1], p99_ms: at(0.99), runs: sorted.length };
}

export async function timeIt(fn: () => Promise<unknown> | unknown, opts: { warmup?: number; runs?: number } = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 2;
  const runs = opts.runs ?? 7;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** Runs a and b interleaved so drift of the machine hits both alike; ratio = median(a) / median(b). */
export async function compare(a: () => Promise<unknown>, b: () => Promise<unknown>, opts: { warmup?: number; runs?: number } = {}) {
  const warmup = opts.warmup ?? 2;
  const runs = opts.runs ?? 7;
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await a();
    sa.push(performance.now() - t0);
    t0 = performance.now();
    await b();
    sb.push(performance.now() - t0);
  }
  const ta = summarize(sa);
  const tb = summarize(sb);
  return { a: ta, b: tb, ratio: ta.median_ms / tb.median_ms };
}
