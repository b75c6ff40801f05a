// tiling on the native and A1111 requests: accepted, taken from the A1111 option when the request leaves it null,
// and refused by name together with LoRAs or ControlNet (whose networks the farm does not rewrite).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { A1111ValidationError, FarmError, ValidationError, parseA1111, parseJobRequest, type Catalog } from '../src/index';

const catalog: Catalog = {
  models: ['tiny'],
  loras: ['style'],
  upscalers: [],
  checkSampler: (s) => {
    if (!['Euler a', 'Euler'].includes(s)) throw new FarmError('unknown_sampler', 422, `unknown sampler "${s}"`);
  },
};
const limits = { maxPixels: 256 * 256, maxSteps: 150, maxImagesPerRequest: 16 };
const valid = { prompt: 'a wall', width: 64, height: 64, steps: 4, seed: 3 };
const ctx = (options: Record<string, unknown> = {}) => ({ limits, catalog, options, styles: [] });

test('native tiling: true reaches the params; with a LoRA or ControlNet it is a 422 on tiling', () => {
  assert.equal(parseJobRequest({ ...valid, tiling: true }, limits, catalog).params.tiling, true);
  assert.equal(parseJobRequest({ ...valid }, limits, catalog).params.tiling, undefined);
  for (const extra of [{ loras: [{ name: 'style', weight: 0.5 }] }, { prompt: 'a wall <lora:style:1>' }, { controlnet: [{ image: 'iVBORw0KGgo=' }] }]) {
    assert.throws(
      () => parseJobRequest({ ...valid, tiling: true, ...extra }, limits, catalog),
      (e: ValidationError) => e.field === 'tiling',
      JSON.stringify(extra),
    );
  }
});

test('A1111: tiling true, or null with the tiling option on, tiles; false wins over the option', () => {
  assert.equal(parseA1111('txt2img', { ...valid, tiling: true }, ctx()).params.tiling, true);
  assert.equal(parseA1111('txt2img', { ...valid, tiling: null }, ctx({ tiling: true })).params.tiling, true);
  assert.equal(parseA1111('txt2img', { ...valid, tiling: false }, ctx({ tiling: true })).params.tiling, undefined);
  assert.equal(parseA1111('img2img', { ...valid, init_images: ['iVBORw0KGgo='] }, ctx({ tiling: true })).params.tiling, true);
  assert.throws(
    () => parseA1111('txt2img', { ...valid, tiling: true, prompt: 'a <lora:style:1>' }, ctx()),
    (e: A1111ValidationError) => e.detail[0].loc[1] === 'tiling',
  );
});
