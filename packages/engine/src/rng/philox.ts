// A1111's "NV" random source (and what its default "GPU" source gives on CUDA): torch.randn on CUDA imitated on the
// CPU. Each value i of a call is one Philox 4x32-10 block with counter (offset, 0, i, 0) and key (seed low word,
// seed high word); its first two words go through Box-Muller (sine branch only). The offset counts the calls made
// on this generator, so call k of an image's generator is its k-th noise tensor, as A1111's modules/rng_philox.py
// does. Box-Muller runs in float64 on float32 constants and the result is rounded to float32, as numpy does there.
import type { NoiseSource } from './numpy-random-state';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const ROUNDS = 10;

// float32 constants of the reference: 2^-32 and 2^-32 * 2pi, each rounded to float32 first
const INV32 = Math.fround(2.3283064e-10);
const INV32_2PI = Math.fround(2.3283064e-10 * 6.2831855);
const HALF_INV32 = Math.fround(INV32 / 2);
const HALF_INV32_2PI = Math.fround(INV32_2PI / 2);

/** high 32 bits of the 64-bit product of two uint32 */
function mulhi(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** Philox 4x32 with 10 rounds; returns the first two output words of block (counter, key). */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number] {
  for (let r = 0; r < ROUNDS; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const lo0 = Math.imul(c0, M0) >>> 0;
    const hi0 = mulhi(c0, M0);
    const lo2 = Math.imul(c2, M1) >>> 0;
    const hi2 = mulhi(c2, M1);
    const n0 = (hi2 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo2;
    c2 = n2;
    c3 = lo0;
  }
  return [c0, c1];
}

export class PhiloxGenerator implements NoiseSource {
  private offset = 0;
  private readonly keyLo: number;
  private readonly keyHi: number;

  /** seed: a non-negative integer below 2^53 (the reference keys with the 64-bit seed) */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    this.keyLo = seed >>> 0;
    this.keyHi = Math.floor(seed / 2 ** 32) >>> 0;
  }

  randn(n: number): Float32Array {
    const out = new Float32Array(n);
    const offset = this.offset++;
    for (let i = 0; i < n; i++) {
      const [x, y] = philox4x32(offset, 0, i, 0, this.keyLo, this.keyHi);
      const u = x * INV32 + HALF_INV32;
      const v = y * INV32_2PI + HALF_INV32_2PI;
      out[i] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
    }
    return out;
  }
}
