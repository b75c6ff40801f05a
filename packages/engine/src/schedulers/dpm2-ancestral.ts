// DPM2 a (sample_dpm_2_ancestral, eta 1): DPM2's midpoint step down to sigma_down, then noise of sigma_up.
import { ancestralStep } from './ancestral';
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

export const sampleDpm2Ancestral: KSampler = function* (x, { sigmas, noise }) {
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const d = toD(x, sigma, yield { x, sigma, step: i });
    const { down, up } = ancestralStep(sigma, sigmas[i + 1]);
    if (down === 0) {
      x = lincomb([1, x], [down - sigma, d]);
    } else {
      const mid = Math.exp((Math.log(sigma) + Math.log(down)) / 2);
      const x2 = lincomb([1, x], [mid - sigma, d]);
      const d2 = toD(x2, mid, yield { x: x2, sigma: mid, step: i });
      x = lincomb([1, x], [down - sigma, d2]);
      x = lincomb([1, x], [up, noise.randn(x.length)]);
    }
  }
  return x;
};
