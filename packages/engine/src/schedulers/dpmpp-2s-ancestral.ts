// DPM++ 2S a (sample_dpmpp_2s_ancestral, eta 1): a single-step second-order DPM-Solver++ step to sigma_down
// (model called again at the log-midpoint), then noise of sigma_up.
import { ancestralStep } from './ancestral';
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

export const sampleDpmpp2sAncestral: KSampler = function* (x, { sigmas, noise }) {
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const denoised = yield { x, sigma, step: i };
    const { down, up } = ancestralStep(sigma, sigmas[i + 1]);
    if (down === 0) {
      x = lincomb([1, x], [down - sigma, toD(x, sigma, denoised)]);
    } else {
      const t = -Math.log(sigma);
      const h = -Math.log(down) - t;
      const s = t + h / 2;
      const x2 = lincomb([Math.exp(-s) / sigma, x], [-Math.expm1(-h / 2), denoised]);
      const denoised2 = yield { x: x2, sigma: Math.exp(-s), step: i };
      x = lincomb([down / sigma, x], [-Math.expm1(-h), denoised2]);
    }
    if (sigmas[i + 1] > 0) x = lincomb([1, x], [up, noise.randn(x.length)]);
  }
  return x;
};
