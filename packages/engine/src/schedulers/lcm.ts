// LCM. A1111 (sample_lcm on LCMCompVisDenoiser): each step takes the consistency model's x0 and, unless it is the
// last, re-noises it to the next sigma with fresh noise; timesteps are quantized to the 50 LCM timesteps and the x0
// is mixed with the input by c_skip/c_out at 10·t. The diffusers variant (native API) follows LCMScheduler.
import { lincomb } from './vec';
import type { KSampler, TimestepSampler } from './sampler-run';

const SIGMA_DATA = 0.5;
const TIMESTEP_SCALING = 10;
const ORIGINAL_STEPS = 50;

export function lcmScalings(t: number): { cSkip: number; cOut: number } {
  const scaled = t * TIMESTEP_SCALING;
  return { cSkip: SIGMA_DATA ** 2 / (scaled ** 2 + SIGMA_DATA ** 2), cOut: scaled / Math.sqrt(scaled ** 2 + SIGMA_DATA ** 2) };
}

export const sampleLcm: KSampler = function* (x, { sigmas, noise }) {
  for (let i = 0; i < sigmas.length - 1; i++) {
    x = yield { x, sigma: sigmas[i], step: i };
    if (sigmas[i + 1] > 0) x = lincomb([1, x], [sigmas[i + 1], noise.randn(x.length)]);
  }
  return x;
};

/** diffusers' LCMScheduler timesteps: every k-th of the 50-step origin schedule */
export function lcmTimesteps(trainSteps: number, steps: number): number[] {
  const k = Math.floor(trainSteps / ORIGINAL_STEPS);
  const origin = Array.from({ length: ORIGINAL_STEPS }, (_, i) => (i + 1) * k - 1).reverse();
  const skip = Math.max(1, Math.floor(origin.length / steps));
  return origin.filter((_, i) => i % skip === 0).slice(0, steps);
}

/** diffusers' LCMScheduler.step over the given timesteps (alpha space) */
export function diffusersLcm(timesteps: number[]): TimestepSampler {
  return function* (x, { noise, acp }) {
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i];
      const { eps } = yield { x, t, step: i };
      const a = acp[t];
      const { cSkip, cOut } = lcmScalings(t);
      const x0 = lincomb([1 / Math.sqrt(a), x], [-Math.sqrt(1 - a) / Math.sqrt(a), eps]);
      const denoised = lincomb([cOut, x0], [cSkip, x]);
      if (i === timesteps.length - 1) return denoised;
      const aNext = acp[timesteps[i + 1]];
      x = lincomb([Math.sqrt(aNext), denoised], [Math.sqrt(1 - aNext), noise.randn(x.length)]);
    }
    return x;
  };
}
