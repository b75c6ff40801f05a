// DPM++ 2M (sample_dpmpp_2m): second-order multistep DPM-Solver++, using the previous step's x0 prediction.
import { lincomb } from './vec';
import type { KSampler } from './sampler-run';

export const sampleDpmpp2m: KSampler = function* (x, { sigmas }) {
  let old: Float32Array | null = null;
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const next = sigmas[i + 1];
    const denoised = yield { x, sigma, step: i };
    const t = -Math.log(sigma);
    const h = -Math.log(next) - t;
    const coeff = -Math.expm1(-h);
    if (old === null || next === 0) {
      x = lincomb([next / sigma, x], [coeff, denoised]);
    } else {
      const r = (t + Math.log(sigmas[i - 1])) / h;
      x = lincomb([next / sigma, x], [coeff * (1 + 1 / (2 * r)), denoised], [-coeff / (2 * r), old]);
    }
    old = denoised;
  }
  return x;
};
