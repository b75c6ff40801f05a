// Euler (k-diffusion sample_euler, s_churn 0): x += d · (sigma_next - sigma).
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

export const sampleEuler: KSampler = function* (x, { sigmas }) {
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = yield { x, sigma: sigmas[i], step: i };
    x = lincomb([1, x], [sigmas[i + 1] - sigmas[i], toD(x, sigmas[i], denoised)]);
  }
  return x;
};
