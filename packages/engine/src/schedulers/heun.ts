// Heun (sample_heun, s_churn 0): Euler predictor, then the average of both slopes; the step to 0 is plain Euler.
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

export const sampleHeun: KSampler = function* (x, { sigmas }) {
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = yield { x, sigma: sigmas[i], step: i };
    const d = toD(x, sigmas[i], denoised);
    const dt = sigmas[i + 1] - sigmas[i];
    if (sigmas[i + 1] === 0) {
      x = lincomb([1, x], [dt, d]);
    } else {
      const x2 = lincomb([1, x], [dt, d]);
      const d2 = toD(x2, sigmas[i + 1], yield { x: x2, sigma: sigmas[i + 1], step: i });
      x = lincomb([1, x], [dt / 2, d], [dt / 2, d2]);
    }
  }
  return x;
};
