// The pure parts of inpainting and latent resampling, against hand-derived values.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { binaryMask, blurMask, cropRegion, expandCropRegion, invert } from '../src/inpaint/mask';
import { blendLatent, blendPrediction, sigmaAtTimestep } from '../src/inpaint/blend';
import { resample } from '../src/upscale/resample';

const close = (a: ArrayLike<number>, b: number[], eps = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= eps, `[${i}] ${a[i]} != ${b[i]}`);
};

test('binary mask: luminance of an opaque upload, thresholded alpha of a translucent one; invert', () => {
  // opaque pixels: white, black, pure red (0.299 * 255 = 76.2 -> 76)
  const opaque = Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 255, 255, 0, 0, 255);
  assert.deepEqual([...binaryMask(opaque, 3, 1, true).data], [255, 0, 76]);
  const alpha = Uint8Array.of(0, 0, 0, 200, 0, 0, 0, 128, 0, 0, 0, 0);
  assert.deepEqual([...binaryMask(alpha, 3, 1, true).data], [255, 0, 0]);
  assert.deepEqual([...binaryMask(alpha, 3, 1, false).data], [200, 128, 0]);
  assert.deepEqual([...invert({ data: Uint8Array.of(0, 255, 10), width: 3, height: 1 }).data], [255, 0, 245]);
});

test('mask blur: 2*int(2.5*sigma+0.5)+1 taps, normalised, reflect-101 borders', () => {
  const w = 31;
  const line = new Uint8Array(w);
  line[15] = 255;
  const out = blurMask({ data: line, width: w, height: 1 }, 2, 0).data;
  // sigma 2: 11 taps, so the spike spreads exactly 5 pixels each way
  assert.equal(out[9], 0);
  assert.ok(out[10] > 0 && out[20] > 0);
  assert.equal(out[21], 0);
  const g = (d: number) => Math.exp(-(d * d) / 8);
  let sum = 0;
  for (let d = -5; d <= 5; d++) sum += g(d);
  assert.equal(out[15], Math.round((255 * g(0)) / sum));
  assert.equal(out[13], Math.round((255 * g(2)) / sum));
  const flat = blurMask({ data: new Uint8Array(64).fill(200), width: 8, height: 8 }, 3, 3).data;
  assert.ok(
    flat.every((v) => v === 200),
    'a constant mask stays constant',
  );
});

test('crop region: bounding box plus padding, clipped; expanded to the processing aspect ratio inside the image', () => {
  const data = new Uint8Array(20 * 10);
  data[3 * 20 + 5] = 255;
  data[6 * 20 + 8] = 1;
  assert.deepEqual(cropRegion({ data, width: 20, height: 10 }, 0), [5, 3, 9, 7]);
  assert.deepEqual(cropRegion({ data, width: 20, height: 10 }, 4), [1, 0, 13, 10]);
  assert.equal(cropRegion({ data: new Uint8Array(4), width: 2, height: 2 }, 3), null);
  // 4 wide x 2 high for a square processing size: 2 rows added, one above and one below
  assert.deepEqual(expandCropRegion([10, 10, 14, 12], 64, 64, 100, 100), [10, 9, 14, 13]);
  // against the bottom edge the box slides up
  assert.deepEqual(expandCropRegion([10, 98, 14, 100], 64, 64, 100, 100), [10, 96, 14, 100]);
  // too tall for 2:1: widened, sliding right off the left edge
  assert.deepEqual(expandCropRegion([0, 0, 2, 4], 128, 64, 100, 100), [0, 0, 8, 4]);
});

test('latent blend: the prediction implies the init latent where the mask keeps, and is untouched where it repaints', () => {
  const alphaBar = 0.36; // sqrt = 0.6, sqrt(1 - a) = 0.8
  const xIn = Float32Array.of(1, 1);
  const eps = Float32Array.of(0.5, 0.5);
  const init = Float32Array.of(0.25, -1);
  const out = blendPrediction(eps, xIn, alphaBar, { init, nmask: Float32Array.of(0, 1) });
  assert.ok(Math.abs((1 - 0.8 * out[0]) / 0.6 - 0.25) < 1e-6, 'x0 of the kept element is the init');
  assert.equal(out[1], 0.5);
  close(blendLatent(Float32Array.of(4, 4), { init, nmask: Float32Array.of(0.25, 1) }), [0.25 * 4 + 0.75 * 0.25, 4]);
  // sigma between table entries is interpolated in log space
  const table = Float64Array.of(0.1, 0.4);
  assert.ok(Math.abs(sigmaAtTimestep(table, 0.5) - 0.2) < 1e-12);
  assert.equal(sigmaAtTimestep(table, 1), 0.4);
});

test('resample: torch interpolate semantics for 2x upscaling; antialiased downscaling averages', () => {
  const row = Float32Array.of(0, 1);
  close(resample(row, 1, 1, 2, 1, 4, 'bilinear'), [0, 0.25, 0.75, 1]);
  close(resample(row, 1, 1, 2, 1, 4, 'bilinear', true), [0, 0.25, 0.75, 1]);
  close(resample(row, 1, 1, 2, 1, 4, 'nearest'), [0, 0, 1, 1]);
  close(resample(Float32Array.of(0, 1, 2), 1, 1, 3, 1, 2, 'nearest'), [0, 1]);
  close(resample(Float32Array.of(0, 1, 2), 1, 1, 3, 1, 2, 'nearest-exact'), [0, 2]);
  // bicubic A=-0.75 at x=0.25 between 0 and 1 with clamped neighbours 0 and 1: hand-computed weights
  const c = (x: number, a = -0.75) => {
    x = Math.abs(x);
    return x < 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0;
  };
  const b = resample(row, 1, 1, 2, 1, 4, 'bicubic');
  close([b[1]], [0 * c(1.25) + 0 * c(0.25) + 1 * c(0.75) + 1 * c(1.75)]);
  // PIL triangle filter stretched 2x: taps at distance 0.5, 0.5, 1.5 (weights .75 .75 .25), the one outside the image dropped
  close(resample(Float32Array.of(1, 3, 5, 7), 1, 1, 4, 1, 2, 'bilinear', true), [4.25 / 1.75, 9.75 / 1.75]);
  close(resample(new Float32Array(16).fill(0.5), 1, 4, 4, 2, 2, 'bicubic', true), [0.5, 0.5, 0.5, 0.5]);
});
