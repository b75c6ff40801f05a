// Elementwise arithmetic on latents (always into a new Float32Array; the math runs in float64 per element).

/** k · x. (A loop: Float32Array.from with a map function takes the generic iterable path, ~50 ns per element,
 * which on a small model's latents is a measurable share of a denoising step.) */
export function scaled(x: Float32Array, k: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * k;
  return out;
}

/** Σ coefficient_k · vector_k, summed in float64 in the order given, rounded to float32 once */
export function lincomb(...terms: [number, Float32Array][]): Float32Array {
  const n = terms[0][1].length;
  const out = new Float32Array(n);
  if (terms.length === 2) {
    // the common case (to_d, Euler steps), without the accumulator
    const [[c0, v0], [c1, v1]] = terms;
    for (let i = 0; i < n; i++) out[i] = c0 * v0[i] + c1 * v1[i];
    return out;
  }
  const sum = new Float64Array(n);
  for (const [c, v] of terms) for (let i = 0; i < n; i++) sum[i] += c * v[i];
  out.set(sum);
  return out;
}

/** (x - denoised) / sigma: k-diffusion's to_d, the ODE derivative */
export function toD(x: Float32Array, sigma: number, denoised: Float32Array): Float32Array {
  return lincomb([1 / sigma, x], [-1 / sigma, denoised]);
}
