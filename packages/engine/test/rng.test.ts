import { test } from 'vitest';
import assert from 'node:assert/strict';
import { NumpyRandomState } from '../src/rng';

const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-7) =>
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < tol, `index ${i}: ${actual[i]} vs ${e}`));

test('randn matches numpy RandomState(0).randn', () => {
  close(new NumpyRandomState(0).randnFloat64(6), [1.76405235, 0.40015721, 0.97873798, 2.2408932, 1.86755799, -0.97727788]);
});

test('randn matches numpy RandomState(42).randn', () => {
  close(new NumpyRandomState(42).randnFloat64(4), [0.49671415, -0.1382643, 0.64768854, 1.52302986]);
});

test('random_sample matches numpy RandomState(0).random_sample', () => {
  const r = new NumpyRandomState(0);
  close([r.random(), r.random(), r.random()], [0.5488135, 0.71518937, 0.60276338]);
});

test('the largest 32-bit seed works and seeds outside the range are refused', () => {
  assert.equal(new NumpyRandomState(2 ** 32 - 1).randn(3).length, 3);
  assert.throws(() => new NumpyRandomState(2 ** 32), RangeError);
  assert.throws(() => new NumpyRandomState(-1), RangeError);
  assert.throws(() => new NumpyRandomState(1.5), RangeError);
});

test('float32 randn is the float64 stream rounded', () => {
  const a = new NumpyRandomState(7).randn(1000);
  const b = new NumpyRandomState(7).randnFloat64(1000);
  for (let i = 0; i < 1000; i++) assert.equal(a[i], Math.fround(b[i]));
});
