// Latent blending for inpainting, as A1111's CFG denoiser does at every model call (denoised = denoised * nmask +
// init_latent * mask) and once more after sampling. Samplers here consume epsilon, so the blend is applied to the
// prediction: the x0 implied by (model input, eps) is replaced by the init latent where the mask keeps the image,
// which is the same update. alphā of the call comes from its timestep (log-sigma interpolated, as k-diffusion's t_to_sigma).

export interface LatentBlend {
  /** the known latent (init, after inpainting_fill) */
  init: Float32Array;
  /** per latent element: 1 = repaint, 0 = keep (A1111's nmask, tiled over the channels) */
  nmask: Float32Array;
}

/** sigma at a possibly fractional training timestep, from the training sigma table. */
export function sigmaAtTimestep(table: Float64Array, t: number): number {
  const lo = Math.max(0, Math.min(table.length - 1, Math.floor(t)));
  const hi = Math.min(table.length - 1, lo + 1);
  const w = t - lo;
  return Math.exp(Math.log(table[lo]) * (1 - w) + Math.log(table[hi]) * w);
}

/**
 * eps' such that the x0 implied by (xIn, eps') is x0(eps) where nmask = 1 and init where nmask = 0.
 * xIn is the UNet input (variance preserving: sqrt(a) x0 + sqrt(1 - a) eps), alphaBar that of the call.
 */
export function blendPrediction(eps: Float32Array, xIn: Float32Array, alphaBar: number, b: LatentBlend): Float32Array {
  const sa = Math.sqrt(alphaBar);
  const s1a = Math.sqrt(1 - alphaBar);
  const out = new Float32Array(eps.length);
  for (let i = 0; i < eps.length; i++) {
    const n = b.nmask[i];
    out[i] = n === 1 ? eps[i] : n * eps[i] + (1 - n) * ((xIn[i] - sa * b.init[i]) / s1a);
  }
  return out;
}

/** samples * nmask + init * (1 - nmask) */
export function blendLatent(x: Float32Array, b: LatentBlend): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * b.nmask[i] + b.init[i] * (1 - b.nmask[i]);
  return out;
}
