// DPM++ 2M SDE (sample_dpmpp_2m_sde, eta 1): multistep DPM-Solver++ with the stochastic term; solver_type
// 'midpoint' here, 'heun' for DPM++ 2M SDE Heun. Noise from the image's Brownian motion.
import { lincomb } from './vec';
import type { KSampler } from './sampler-run';

export function dpmpp2mSde(solver: 'midpoint' | 'heun', eta = 1): KSampler {
  return function* (x, { sigmas, noise }) {
    let old: Float32Array | null = null;
    let hLast = 0;
    for (let i = 0; i < sigmas.length - 1; i++) {
      const sigma = sigmas[i];
      const next = sigmas[i + 1];
      const denoised = yield { x, sigma, step: i };
      if (next === 0) {
        x = denoised;
      } else {
        const h = Math.log(sigma) - Math.log(next);
        const etaH = eta * h;
        const phi = -Math.expm1(-h - etaH);
        x = lincomb([(next / sigma) * Math.exp(-etaH), x], [phi, denoised]);
        if (old !== null) {
          const r = hLast / h;
          const k = solver === 'heun' ? (phi / (-h - etaH) + 1) / r : (0.5 * phi) / r;
          x = lincomb([1, x], [k, denoised], [-k, old]);
        }
        if (eta) x = lincomb([1, x], [next * Math.sqrt(-Math.expm1(-2 * etaH)), noise.brownian!(sigma, next, x.length)]);
        hLast = h;
      }
      old = denoised;
    }
    return x;
  };
}

export const sampleDpmpp2mSde: KSampler = dpmpp2mSde('midpoint');
