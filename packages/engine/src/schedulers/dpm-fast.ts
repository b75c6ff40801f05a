// DPM fast (sample_dpm_fast, DPM-Solver-Fast): n model calls spread over steps of order 3, 2, 1 evenly in
// t = -log(sigma) from sigma_max to sigma_min; A1111 passes eta 1, so each step ends with ancestral noise.
import { linspace } from './model-schedule';
import { ancestralTarget, solver1, solver2, solver3, tOf, type EpsCache } from './dpm-solver';
import { lincomb } from './vec';
import type { KSampler } from './sampler-run';

/** DPM-Solver-Fast's orders for a budget of nfe model calls */
export function dpmFastOrders(nfe: number): number[] {
  const m = Math.floor(nfe / 3) + 1;
  return nfe % 3 === 0 ? [...Array(Math.max(0, m - 2)).fill(3), 2, 1] : [...Array(m - 1).fill(3), nfe % 3];
}

export const sampleDpmFast: KSampler = function* (x, { noise, range }) {
  const eta = 1;
  const tStart = tOf(range.sigmaMax);
  const tEnd = tOf(range.sigmaMin);
  const orders = dpmFastOrders(range.n);
  const ts = linspace(tStart, tEnd, Math.floor(range.n / 3) + 2);
  for (let i = 0; i < orders.length; i++) {
    const cache: EpsCache = new Map();
    const t = ts[i];
    const tNext = ts[i + 1];
    const { tTo: tNextUsed, su } = ancestralTarget(t, tNext, tEnd, eta);
    const step = i;
    if (orders[i] === 1) x = yield* solver1(x, t, tNextUsed, cache, step);
    else if (orders[i] === 2) x = yield* solver2(x, t, tNextUsed, cache, step);
    else x = yield* solver3(x, t, tNextUsed, cache, step);
    x = lincomb([1, x], [su, noise.randn(x.length)]);
  }
  return x;
};
