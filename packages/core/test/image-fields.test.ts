// Inpainting, hires fix and tiling fields on the native and A1111 requests: resolved as A1111 does, refused by name
// where they would do nothing (native) or cannot be honoured (both).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { A1111ValidationError, FarmError, ValidationError, hiresTarget, parseA1111, parseJobRequest, type Catalog } from '../src/index';

const catalog: Catalog = {
  models: ['tiny'],
  loras: [],
  upscalers: ['4x-tiny-esrgan'],
  checkSampler: (s) => {
    if (!['Euler a', 'Euler', 'DDIM'].includes(s)) throw new FarmError('unknown_sampler', 422, `unknown sampler "${s}"`);
  },
};
const limits = { maxPixels: 256 * 256, maxSteps: 150, maxImagesPerRequest: 16 };
const IMG = 'iVBORw0KGgo=';
const valid = { prompt: 'a cat', width: 64, height: 64, steps: 4, seed: 3 };

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof A1111ValidationError) return String(e.detail[0].loc.slice(1).join('.'));
    if (e instanceof ValidationError) return e.field;
    throw e;
  }
  return undefined;
}

test('hires target size: hr_scale, hr_resize_x alone, and both (truncated to the requested box), in multiples of 8', () => {
  assert.deepEqual(hiresTarget(64, 64, { hr_scale: 2, hr_resize_x: 0, hr_resize_y: 0 }), {
    toX: 128,
    toY: 128,
    truncateX: 0,
    truncateY: 0,
    width: 128,
    height: 128,
  });
  assert.deepEqual(hiresTarget(64, 64, { hr_scale: 1.3, hr_resize_x: 0, hr_resize_y: 0 }), {
    toX: 83,
    toY: 83,
    truncateX: 0,
    truncateY: 0,
    width: 80,
    height: 80,
  });
  assert.deepEqual(hiresTarget(64, 96, { hr_scale: 2, hr_resize_x: 100, hr_resize_y: 0 }), {
    toX: 100,
    toY: 150,
    truncateX: 0,
    truncateY: 0,
    width: 96,
    height: 144,
  });
  // 1:1 into 4:3: scaled to cover 128 wide (128x128), then 4 latent rows cut to reach 96
  assert.deepEqual(hiresTarget(64, 64, { hr_scale: 2, hr_resize_x: 128, hr_resize_y: 96 }), {
    toX: 128,
    toY: 128,
    truncateX: 0,
    truncateY: 4,
    width: 128,
    height: 96,
  });
});

test('native: mask fields resolve with A1111 defaults; mask_blur sets both axes; a mask on txt2img is refused by name', () => {
  const { params } = parseJobRequest({ ...valid, init_image: IMG, mask: `data:image/png;base64,${IMG}`, mask_blur: 6, inpainting_fill: 2 }, limits, catalog);
  assert.equal(params.kind, 'img2img');
  assert.deepEqual(params.inpaint, {
    mask: IMG,
    mask_blur_x: 6,
    mask_blur_y: 6,
    inpainting_fill: 2,
    inpaint_full_res: true,
    inpaint_full_res_padding: 0,
    inpainting_mask_invert: false,
    mask_round: true,
  });
  assert.equal(parseJobRequest({ ...valid, init_image: IMG, mask: IMG, mask_blur_x: 2 }, limits, catalog).params.inpaint?.mask_blur_y, 4);
  assert.equal(
    fieldOf(() => parseJobRequest({ ...valid, mask: IMG }, limits, catalog)),
    'mask',
  );
  assert.equal(
    fieldOf(() => parseJobRequest({ ...valid, init_image: IMG, enable_hr: true }, limits, catalog)),
    'enable_hr',
  );
  assert.equal(
    fieldOf(() => parseJobRequest({ ...valid, init_image: IMG, mask: IMG, inpainting_fill: 4 }, limits, catalog)),
    'inpainting_fill',
  );
});

test('hires fix: upscaler names are checked, sizes limited; the hires pass takes denoising_strength', () => {
  const { params } = parseJobRequest(
    { ...valid, enable_hr: true, hr_upscaler: '4x-tiny-esrgan', denoising_strength: 0.4, hr_second_pass_steps: 3 },
    limits,
    catalog,
  );
  assert.equal(params.hires?.hr_upscaler, '4x-tiny-esrgan');
  assert.equal(params.hires?.denoising_strength, 0.4);
  assert.equal(parseJobRequest({ ...valid, enable_hr: true }, limits, catalog).params.hires?.hr_upscaler, 'Latent');
  assert.equal(
    fieldOf(() => parseJobRequest({ ...valid, enable_hr: true, hr_upscaler: 'R-ESRGAN 4x+' }, limits, catalog)),
    'hr_upscaler',
  );
  assert.equal(
    fieldOf(() => parseJobRequest({ ...valid, width: 256, height: 256, enable_hr: true }, limits, catalog)),
    'hr_scale',
  );
  assert.throws(
    () => parseJobRequest({ ...valid, enable_hr: true, hr_sampler_name: 'Nope' }, limits, catalog),
    (e: FarmError) => e.code === 'unknown_sampler',
  );
});

test('A1111: inpainting and hires fields resolve; a second hires checkpoint and unknown upscalers are refused by name', () => {
  const ctx = { limits, catalog, options: {}, styles: [] };
  const t = parseA1111('txt2img', { ...valid, enable_hr: true, hr_scale: 1.5, hr_sampler_name: 'Euler', denoising_strength: 0.3 }, ctx);
  assert.equal(t.params.hires?.hr_scale, 1.5);
  assert.equal(t.params.hires?.hr_sampler_name, 'Euler');
  assert.equal(t.params.hires?.denoising_strength, 0.3);
  assert.equal(t.params.hires?.hr_upscaler_given, false);
  const i = parseA1111(
    'img2img',
    { ...valid, init_images: [IMG], mask: IMG, mask_blur: 2, inpainting_mask_invert: 1 },
    { ...ctx, options: { initial_noise_multiplier: 0.9 } },
  );
  assert.equal(i.params.inpaint?.inpaint_full_res, true, "A1111's default is only-masked");
  assert.equal(i.params.inpaint?.inpainting_mask_invert, true);
  assert.equal(i.params.inpaint?.mask_blur_x, 2);
  assert.equal(i.params.initial_noise_multiplier, 0.9, 'the option applies when the request has none');
  assert.equal(parseA1111('img2img', { ...valid, init_images: [IMG], mask: '' }, ctx).params.inpaint, undefined);
  assert.equal(
    fieldOf(() => parseA1111('txt2img', { ...valid, enable_hr: true, hr_checkpoint_name: 'other' }, ctx)),
    'hr_checkpoint_name',
  );
  assert.equal(
    fieldOf(() => parseA1111('txt2img', { ...valid, enable_hr: true, hr_upscaler: 'SwinIR 4x' }, ctx)),
    'hr_upscaler',
  );
  assert.equal(
    fieldOf(() => parseA1111('img2img', { ...valid, init_images: [IMG], mask: IMG, inpainting_fill: 7 }, ctx)),
    'inpainting_fill',
  );
});
