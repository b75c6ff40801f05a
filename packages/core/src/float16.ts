// IEEE 754 binary16 ("half", float16) <-> JS numbers: the one converter of the farm (Node 20 has no Float16Array).
// Encoding rounds the exact double to nearest, ties to even (no detour through float32, so no double rounding);
// subnormals, signed zeros, infinities and NaN are kept.
const f64 = new Float64Array(1);
const w32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian hosts keep the high word at [1]

/** Largest finite half is 65504; anything from the midpoint to 65536 (65520) up rounds to infinity. */
const OVERFLOW = 65520;
const MIN_NORMAL = 2 ** -14;

function roundHalfEven(q: number): number {
  const floor = Math.floor(q);
  const frac = q - floor; // exact: q < 2^11
  return frac > 0.5 || (frac === 0.5 && (floor & 1) === 1) ? floor + 1 : floor;
}

/** The binary16 bit pattern (0..0xffff) nearest to `value`, ties to even. */
export function toFloat16Bits(value: number): number {
  f64[0] = value;
  const hi = w32[HI];
  const sign = (hi >>> 16) & 0x8000;
  if (Number.isNaN(value)) return sign | 0x7e00;
  const a = Math.abs(value);
  if (a >= OVERFLOW) return sign | 0x7c00;
  if (a < MIN_NORMAL) return sign | roundHalfEven(a * 2 ** 24); // subnormal units of 2^-24; 1024 is the smallest normal
  const exponent = ((hi >>> 20) & 0x7ff) - 1023; // a >= 2^-14 is a normal double
  const q = roundHalfEven(a * 2 ** (10 - exponent)); // 1024..2048; 2048 carries into the exponent below
  return sign | (((exponent + 15) << 10) + q - 1024);
}

/** The number a binary16 bit pattern stands for. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

export function toFloat16Array(data: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = toFloat16Bits(data[i]);
  return out;
}

export function fromFloat16Array(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i]);
  return out;
}
