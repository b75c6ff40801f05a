// The farm's one float16 converter against bit patterns derived by hand from IEEE 754 binary16
// (1 sign bit, 5 exponent bits biased by 15, 10 fraction bits; subnormals are fraction * 2^-24).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { toFloat16Bits, fromFloat16Bits, toFloat16Array, fromFloat16Array } from '../src/index';

const hex = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;
function encodes(cases: [number, number][]): void {
  for (const [value, bits] of cases) assert.equal(hex(toFloat16Bits(value)), hex(bits), `toFloat16Bits(${value})`);
}

test('normal numbers: exponent and fraction as derived by hand', () => {
  encodes([
    [1, 0x3c00], // 2^0: exponent 15 = 0b01111
    [-2, 0xc000], // sign, exponent 16
    [0.5, 0x3800], // exponent 14
    [65504, 0x7bff], // (2 - 2^-10) * 2^15, the largest finite half
    [0.1, 0x2e66], // 1.6 * 2^-4: exponent 11, fraction 0.6 * 1024 = 614.4 -> 614 = 0x266
    [1 / 3, 0x3555], // 1.333.. * 2^-2: exponent 13, fraction 341.33 -> 341 = 0x155
    [2 ** -14, 0x0400], // the smallest normal
    [999, 0x63ce], // 999 = 1.951171875 * 2^9: exponent 24, fraction 974 = 0x3ce
  ]);
});

test('round to nearest, ties to even, from the exact double', () => {
  const ulp = 2 ** -10; // spacing of halves in [1, 2)
  encodes([
    [1 + ulp / 2, 0x3c00], // tie between 0x3c00 and 0x3c01: even fraction wins
    [1 + (3 * ulp) / 2, 0x3c02], // tie between 0x3c01 and 0x3c02
    [1 + ulp / 2 + 2 ** -30, 0x3c01], // just above the tie
    [1 + ulp / 2 - 2 ** -30, 0x3c00], // just below the tie
    // Above the tie by less than float32 can hold: a float32 detour would round to the tie, then to even (0x3c00).
    [1 + ulp / 2 + 2 ** -40, 0x3c01],
    [2 - ulp / 4, 0x4000], // rounding up carries into the exponent
    [65519.99, 0x7bff], // below the midpoint to 2^16
    [65520, 0x7c00], // the midpoint rounds to even, which is 2^16: infinity
    [1e9, 0x7c00],
    [-1e9, 0xfc00],
  ]);
});

test('subnormals, zeros, infinities, NaN', () => {
  const tiny = 2 ** -24; // the smallest subnormal
  encodes([
    [tiny, 0x0001],
    [5.96e-8, 0x0001],
    [tiny / 2, 0x0000], // tie between 0 and 1 unit: even is 0
    [(tiny / 2) * 1.0001, 0x0001],
    [(3 * tiny) / 2, 0x0002], // tie between 1 and 2 units
    [1023 * tiny, 0x03ff], // the largest subnormal
    [1023.5 * tiny, 0x0400], // tie between 0x03ff and 0x0400: even is the smallest normal
    [-tiny, 0x8001],
    [0, 0x0000],
    [-0, 0x8000],
    [1e-30, 0x0000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ]);
  const nan = toFloat16Bits(Number.NaN);
  assert.equal(nan & 0x7c00, 0x7c00, 'NaN has all exponent bits set');
  assert.notEqual(nan & 0x03ff, 0, 'NaN has a nonzero fraction');
});

test('decoding hand-derived patterns', () => {
  assert.equal(fromFloat16Bits(0x3c00), 1);
  assert.equal(fromFloat16Bits(0x3555), 1365 / 4096);
  assert.equal(fromFloat16Bits(0xc000), -2);
  assert.equal(fromFloat16Bits(0x7bff), 65504);
  assert.equal(fromFloat16Bits(0x0001), 2 ** -24);
  assert.equal(fromFloat16Bits(0x03ff), 1023 * 2 ** -24);
  assert.equal(fromFloat16Bits(0x0400), 2 ** -14);
  assert.ok(Object.is(fromFloat16Bits(0x8000), -0));
  assert.equal(fromFloat16Bits(0x7c00), Infinity);
  assert.equal(fromFloat16Bits(0xfc00), -Infinity);
  assert.ok(Number.isNaN(fromFloat16Bits(0x7e00)));
});

test('every non-NaN pattern survives decode then encode, and encoding is monotonic', () => {
  let previous = -Infinity;
  for (let bits = 0; bits <= 0xffff; bits++) {
    const v = fromFloat16Bits(bits);
    if (Number.isNaN(v)) continue;
    assert.equal(toFloat16Bits(v), bits, hex(bits));
  }
  // walking the positive halves upwards gives strictly increasing values
  for (let bits = 0; bits < 0x7c00; bits++) {
    const v = fromFloat16Bits(bits);
    assert.ok(v > previous || (bits === 0 && v === 0));
    previous = v;
  }
  const data = new Float32Array([1, -2, 0.1, 65504]);
  assert.deepEqual([...toFloat16Array(data)], [0x3c00, 0xc000, 0x2e66, 0x7bff]);
  assert.deepEqual([...fromFloat16Array(toFloat16Array(data))], [1, -2, Math.fround(fromFloat16Bits(0x2e66)), 65504]);
});
