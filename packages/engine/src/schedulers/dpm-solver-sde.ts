// DPMSolverSDEScheduler (DPM++ SDE, k-diffusion's sample_dpmpp_sde with eta 1, r 1/2): each step takes an
// ancestral exponential-integrator half step to the geometric midpoint sigma, calls the model there, then an
// ancestral full step using the midpoint's x0. Two model calls per step; the last step (to sigma 0) is one call.
// Noise comes from the image's NoiseSource (independent normals), not diffusers' Brownian tree.
import { ancestralSigmas } from './euler-ancestral-discrete';
import { SigmaSamplerRun } from './sigma-schedule';
import { timestepForSigma, trainSigmas } from './tables';
import type { NoiseSource, SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

export class DpmPpSdeRun extends SigmaSamplerRun implements SamplerRun {
  private readonly table: Float64Array;
  /** set between the first and second model call of a step */
  private pending: { x: Float32Array; midSigma: number } | null = null;

  constructor(opts: SamplerCreateOptions, karras: boolean) {
    super(opts, karras);
    this.table = trainSigmas(opts.config);
  }

  protected override currentSigma(): number {
    return this.pending ? this.pending.midSigma : this.sigmas[this.index];
  }

  override nextTimestep(): number {
    return this.pending ? timestepForSigma(this.table, this.pending.midSigma) : this.timesteps[this.index];
  }

  step(eps: Float32Array, x: Float32Array, noise: NoiseSource): Float32Array {
    const sigma = this.sigmas[this.index];
    const sigmaNext = this.sigmas[this.index + 1];
    const sigmaNow = this.currentSigma();
    const denoised = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) denoised[k] = x[k] - sigmaNow * eps[k];
    if (this.pending) {
      const out = ancestralUpdate(this.pending.x, denoised, sigma, sigmaNext, noise);
      this.pending = null;
      this.index++;
      return out;
    }
    if (sigmaNext === 0) {
      this.index++;
      return denoised;
    }
    const midSigma = Math.sqrt(sigma * sigmaNext);
    this.pending = { x, midSigma };
    return ancestralUpdate(x, denoised, sigma, midSigma, noise);
  }
}

/** x at sigmaTo: exponential-integrator step to the ancestral sigma_down with the given x0, plus noise of sigma_up */
function ancestralUpdate(x: Float32Array, denoised: Float32Array, sigma: number, sigmaTo: number, noise: NoiseSource): Float32Array {
  const { down, up } = ancestralSigmas(sigma, sigmaTo);
  const ratio = down / sigma;
  const coeff = -Math.expm1(Math.log(down) - Math.log(sigma)); // 1 - down/sigma, stable
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) out[k] = ratio * x[k] + coeff * denoised[k];
  if (up > 0) {
    const z = noise.randn(x.length);
    for (let k = 0; k < x.length; k++) out[k] += z[k] * up;
  }
  return out;
}

export const dpmppSde: SamplerSpec = { name: 'DPM++ SDE', aliases: ['k_dpmpp_sde', 'dpmpp_sde'], create: (o: SamplerCreateOptions) => new DpmPpSdeRun(o, false) };
export const dpmppSdeKarras: SamplerSpec = { name: 'DPM++ SDE Karras', aliases: ['k_dpmpp_sde_ka', 'dpmpp_sde_karras'], create: (o: SamplerCreateOptions) => new DpmPpSdeRun(o, true) };
