// DPM++ SDE (sample_dpmpp_sde, eta 1, r 1/2): an ancestral half step to the log-midpoint, a model call there, then
// an ancestral full step with the blended x0. Noise from the image's Brownian motion (see SamplerNoise.brownian).
import { ancestralStep } from './ancestral';
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

export const sampleDpmppSde: KSampler = function* (x, { sigmas, noise }) {
  const r = 1 / 2;
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const next = sigmas[i + 1];
    const denoised = yield { x, sigma, step: i };
    if (next === 0) {
      x = lincomb([1, x], [next - sigma, toD(x, sigma, denoised)]);
      continue;
    }
    const t = -Math.log(sigma);
    const h = -Math.log(next) - t;
    const sMid = Math.exp(-(t + h * r));
    const fac = 1 / (2 * r);
    const a = ancestralStep(sigma, sMid);
    let x2 = lincomb([a.down / sigma, x], [-Math.expm1(t + Math.log(a.down)), denoised]);
    x2 = lincomb([1, x2], [a.up, noise.brownian!(sigma, sMid, x.length)]);
    const denoised2 = yield { x: x2, sigma: sMid, step: i };
    const b = ancestralStep(sigma, next);
    const blended = lincomb([1 - fac, denoised], [fac, denoised2]);
    x = lincomb([b.down / sigma, x], [-Math.expm1(t + Math.log(b.down)), blended]);
    x = lincomb([1, x], [b.up, noise.brownian!(sigma, next, x.length)]);
  }
  return x;
};
