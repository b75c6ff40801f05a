// Euler a (sample_euler_ancestral, eta 1): an Euler step down to sigma_down, then fresh noise of sigma_up.
import { ancestralStep } from './ancestral';
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

export const sampleEulerAncestral: KSampler = function* (x, { sigmas, noise }) {
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = yield { x, sigma: sigmas[i], step: i };
    const { down, up } = ancestralStep(sigmas[i], sigmas[i + 1]);
    x = lincomb([1, x], [down - sigmas[i], toD(x, sigmas[i], denoised)]);
    if (sigmas[i + 1] > 0) x = lincomb([1, x], [up, noise.randn(x.length)]);
  }
  return x;
};
