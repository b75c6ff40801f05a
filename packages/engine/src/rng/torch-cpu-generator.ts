// A1111's "CPU" random source: torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed)), derived from
// PyTorch's CPU kernels (aten/src/ATen/native/cpu/DistributionTemplates.h, core/DistributionsHelper.h).
// - Uniform floats take the low 24 bits of one MT19937 word: (w & 0xffffff) / 2^24.
// - A float tensor of 16 or more values (every latent) is filled with uniforms first, then each block of 16 becomes
//   16 normals by Box-Muller in float32: u1 = 1 - d[j], u2 = d[j + 8], r = sqrt(-2 log u1), theta = 2 pi u2,
//   d[j] = r cos theta, d[j + 8] = r sin theta. When the size is not a multiple of 16, the last 16 values are
//   redrawn from 16 fresh uniforms and transformed again.
// - Fewer than 16 values use normal_distribution<double>: u1, u2 from 53-bit doubles (two words, first one high),
//   r = sqrt(-2 log1p(-u2)), theta = 2 pi u1, return r cos theta and keep r sin theta for the next value.
// This follows torch's portable kernel; builds whose kernel runs the AVX2 variant (polynomial log/sincos) can differ
// in the last bit of some values.
import { Mt19937 } from './mt19937';
import type { NoiseSource } from './numpy-random-state';

const f = Math.fround;

export class TorchCpuGenerator implements NoiseSource {
  private readonly mt: Mt19937;
  private cachedNormal: number | null = null;

  /** torch.manual_seed keeps the low 32 bits of the seed for MT19937 */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    this.mt = new Mt19937(seed >>> 0);
  }

  private uniformFloat(): number {
    return (this.mt.nextUint32() & 0xffffff) / 16777216;
  }

  private uniformDouble(): number {
    const hi = this.mt.nextUint32();
    const lo = this.mt.nextUint32();
    return ((hi & 0x1fffff) * 4294967296 + lo) / 9007199254740992;
  }

  private normalDouble(): number {
    if (this.cachedNormal !== null) {
      const v = this.cachedNormal;
      this.cachedNormal = null;
      return v;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  randn(n: number): Float32Array {
    const out = new Float32Array(n);
    if (n < 16) {
      for (let i = 0; i < n; i++) out[i] = this.normalDouble();
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= n; i += 16) fill16(out, i);
    if (n % 16 !== 0) {
      for (let i = n - 16; i < n; i++) out[i] = this.uniformFloat();
      fill16(out, n - 16);
    }
    return out;
  }
}

/** torch's normal_fill_16 in float32 arithmetic (log, sqrt, cos, sin each rounded to float32) */
function fill16(d: Float32Array, at: number): void {
  for (let j = at; j < at + 8; j++) {
    const u1 = f(1 - d[j]);
    const u2 = d[j + 8];
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(2 * Math.PI * u2);
    d[j] = f(radius * f(Math.cos(theta)));
    d[j + 8] = f(radius * f(Math.sin(theta)));
  }
}
