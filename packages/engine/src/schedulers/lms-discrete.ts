// LMSDiscreteScheduler: linear multistep of order up to 4; coefficients integrate the Lagrange basis over each
// sigma interval (Gauss-Legendre, exact for these polynomial degrees).
import { SigmaSamplerRun } from './sigma-schedule';
import type { SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

const GL_NODES = [-0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498, 0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363];
const GL_WEIGHTS = [0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620, 0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763];

/** ∫_{sigmas[t]}^{sigmas[t+1]} Π_{k≠j} (τ - sigmas[t-k]) / (sigmas[t-j] - sigmas[t-k]) dτ */
export function lmsCoefficient(sigmas: Float64Array, order: number, t: number, j: number): number {
  const basis = (tau: number) => {
    let p = 1;
    for (let k = 0; k < order; k++) if (k !== j) p *= (tau - sigmas[t - k]) / (sigmas[t - j] - sigmas[t - k]);
    return p;
  };
  const a = sigmas[t];
  const b = sigmas[t + 1];
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let i = 0; i < GL_NODES.length; i++) sum += GL_WEIGHTS[i] * basis(mid + half * GL_NODES[i]);
  return sum * half;
}

export class LmsRun extends SigmaSamplerRun implements SamplerRun {
  private readonly derivatives: Float32Array[] = [];

  constructor(opts: SamplerCreateOptions, karras: boolean, private readonly maxOrder = 4) {
    super(opts, karras);
  }

  step(eps: Float32Array, x: Float32Array): Float32Array {
    const t = this.index;
    this.derivatives.unshift(eps);
    if (this.derivatives.length > this.maxOrder) this.derivatives.pop();
    const order = Math.min(t + 1, this.maxOrder);
    const out = Float32Array.from(x);
    for (let j = 0; j < order; j++) {
      const c = lmsCoefficient(this.sigmas, order, t, j);
      const d = this.derivatives[j];
      for (let i = 0; i < x.length; i++) out[i] += c * d[i];
    }
    this.index++;
    return out;
  }
}

export const lms: SamplerSpec = { name: 'LMS', aliases: ['k_lms', 'lms'], create: (o: SamplerCreateOptions) => new LmsRun(o, false) };
export const lmsKarras: SamplerSpec = { name: 'LMS Karras', aliases: ['k_lms_ka', 'lms_karras'], create: (o: SamplerCreateOptions) => new LmsRun(o, true) };
