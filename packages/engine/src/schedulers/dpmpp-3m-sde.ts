// DPM++ 3M SDE (sample_dpmpp_3m_sde, eta 1): third-order multistep DPM-Solver++ with the stochastic term.
import { lincomb } from './vec';
import type { KSampler } from './sampler-run';

export const sampleDpmpp3mSde: KSampler = function* (x, { sigmas, noise }) {
  const eta = 1;
  let d1: Float32Array | null = null;
  let d2: Float32Array | null = null;
  let h1: number | null = null;
  let h2: number | null = null;
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const next = sigmas[i + 1];
    const denoised = yield { x, sigma, step: i };
    let h: number = h1 ?? 0;
    if (next === 0) {
      x = denoised;
    } else {
      h = Math.log(sigma) - Math.log(next);
      const hEta = h * (eta + 1);
      x = lincomb([Math.exp(-hEta), x], [-Math.expm1(-hEta), denoised]);
      const phi2 = Math.expm1(-hEta) / hEta + 1;
      if (h2 !== null && d1 && d2) {
        const r0 = h1! / h;
        const r1 = h2 / h;
        // d1_0 = (denoised - d1) / r0, d1_1 = (d1 - d2) / r1
        const c0 = 1 / r0;
        const c1 = 1 / r1;
        const phi3 = phi2 / hEta - 0.5;
        // D1 = d1_0 + (d1_0 - d1_1) r0 / (r0 + r1); D2 = (d1_0 - d1_1) / (r0 + r1); x += phi2 D1 - phi3 D2
        const w = r0 / (r0 + r1);
        const v = 1 / (r0 + r1);
        const a = phi2 * (1 + w) - phi3 * v; // weight of d1_0
        const b = -phi2 * w + phi3 * v; //     weight of d1_1
        x = lincomb([1, x], [a * c0, denoised], [-a * c0 + b * c1, d1], [-b * c1, d2]);
      } else if (h1 !== null && d1) {
        const r = h1 / h;
        x = lincomb([1, x], [phi2 / r, denoised], [-phi2 / r, d1]);
      }
      x = lincomb([1, x], [next * Math.sqrt(-Math.expm1(-2 * h * eta)), noise.brownian!(sigma, next, x.length)]);
    }
    d2 = d1;
    d1 = denoised;
    h2 = h1;
    h1 = h;
  }
  return x;
};
