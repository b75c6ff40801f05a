// Elementwise arithmetic on latents (always into a new Float32Array; the math runs in float64 per element).

/** Σ coefficient_k · vector_k */
export function lincomb(...terms: [number, Float32Array][]): Float32Array {
  const n = terms[0][1].length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const [c, v] of terms) s += c * v[i];
    out[i] = s;
  }
  return out;
}

/** (x - denoised) / sigma: k-diffusion's to_d, the ODE derivative */
export function toD(x: Float32Array, sigma: number, denoised: Float32Array): Float32Array {
  return lincomb([1 / sigma, x], [-1 / sigma, denoised]);
}
