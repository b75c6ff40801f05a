// LMS (sample_lms, order 4): linear multistep on the last four derivatives; each coefficient integrates a Lagrange
// basis polynomial over the sigma interval (Gauss-Legendre, exact for these degrees; k-diffusion uses scipy's quad).
import { lincomb, toD } from './vec';
import type { KSampler } from './sampler-run';

const GL_NODES = [
  -0.9602898564975363, -0.7966664774136267, -0.525532409916329, -0.1834346424956498, 0.1834346424956498, 0.525532409916329, 0.7966664774136267,
  0.9602898564975363,
];
const GL_WEIGHTS = [
  0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.362683783378362, 0.362683783378362, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763,
];

/** ∫_{sigmas[i]}^{sigmas[i+1]} Π_{k≠j} (τ - sigmas[i-k]) / (sigmas[i-j] - sigmas[i-k]) dτ */
export function lmsCoefficient(sigmas: ArrayLike<number>, order: number, i: number, j: number): number {
  const basis = (tau: number) => {
    let p = 1;
    for (let k = 0; k < order; k++) if (k !== j) p *= (tau - sigmas[i - k]) / (sigmas[i - j] - sigmas[i - k]);
    return p;
  };
  const half = (sigmas[i + 1] - sigmas[i]) / 2;
  const mid = (sigmas[i + 1] + sigmas[i]) / 2;
  let sum = 0;
  for (let k = 0; k < GL_NODES.length; k++) sum += GL_WEIGHTS[k] * basis(mid + half * GL_NODES[k]);
  return sum * half;
}

export const sampleLms: KSampler = function* (x, { sigmas }) {
  const ds: Float32Array[] = [];
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = yield { x, sigma: sigmas[i], step: i };
    ds.push(toD(x, sigmas[i], denoised));
    if (ds.length > 4) ds.shift();
    const order = Math.min(i + 1, 4);
    const terms: [number, Float32Array][] = [[1, x]];
    for (let j = 0; j < order; j++) terms.push([lmsCoefficient(sigmas, order, i, j), ds[ds.length - 1 - j]]);
    x = lincomb(...terms);
  }
  return x;
};
