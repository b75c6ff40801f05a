// DPM2 (sample_dpm_2, s_churn 0): a midpoint step in log-sigma, the derivative taken at the midpoint.
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

export const sampleDpm2: KSampler = function* (x, { sigmas }) {
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const next = sigmas[i + 1];
    const d = toD(x, sigma, yield { x, sigma, step: i });
    if (next === 0) {
      x = lincomb([1, x], [next - sigma, d]);
    } else {
      const mid = Math.exp((Math.log(sigma) + Math.log(next)) / 2);
      const x2 = lincomb([1, x], [mid - sigma, d]);
      const d2 = toD(x2, mid, yield { x: x2, sigma: mid, step: i });
      x = lincomb([1, x], [next - sigma, d2]);
    }
  }
  return x;
};
