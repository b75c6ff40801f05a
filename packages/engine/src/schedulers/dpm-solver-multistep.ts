// DPMSolverMultistepScheduler, second order (DPM++ 2M, as k-diffusion's sample_dpmpp_2m), optionally on Karras sigmas.
import { SigmaSamplerRun } from './sigma-schedule';
import type { SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

export class DpmPp2mRun extends SigmaSamplerRun implements SamplerRun {
  private previousDenoised: Float32Array | null = null;

  step(eps: Float32Array, x: Float32Array): Float32Array {
    const i = this.index;
    const sigma = this.sigmas[i];
    const sigmaNext = this.sigmas[i + 1];
    const denoised = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) denoised[k] = x[k] - sigma * eps[k];
    const out = new Float32Array(x.length);
    if (sigmaNext === 0) {
      out.set(denoised);
    } else {
      const t = -Math.log(sigma);
      const tNext = -Math.log(sigmaNext);
      const h = tNext - t;
      const ratio = sigmaNext / sigma;
      const coeff = -Math.expm1(-h);
      if (this.previousDenoised === null) {
        for (let k = 0; k < x.length; k++) out[k] = ratio * x[k] + coeff * denoised[k];
      } else {
        const hLast = t + Math.log(this.sigmas[i - 1]);
        const r = hLast / h;
        const a = 1 + 1 / (2 * r);
        const b = 1 / (2 * r);
        const prev = this.previousDenoised;
        for (let k = 0; k < x.length; k++) out[k] = ratio * x[k] + coeff * (a * denoised[k] - b * prev[k]);
      }
    }
    this.previousDenoised = denoised;
    this.index++;
    return out;
  }
}

export const dpmpp2m: SamplerSpec = { name: 'DPM++ 2M', aliases: ['k_dpmpp_2m', 'dpmpp_2m'], create: (o: SamplerCreateOptions) => new DpmPp2mRun(o, false) };
export const dpmpp2mKarras: SamplerSpec = { name: 'DPM++ 2M Karras', aliases: ['k_dpmpp_2m_ka', 'dpmpp_2m_karras'], create: (o: SamplerCreateOptions) => new DpmPp2mRun(o, true) };
