// The SD upscale script on /sdapi/v1/img2img: script_args as A1111 reads them, defaults, and 422s by name.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { A1111HttpError, A1111ValidationError, FarmError, batchKey, parseA1111, type Catalog } from '../src/index';

const catalog: Catalog = {
  models: ['tiny'],
  loras: [],
  upscalers: ['4x-tiny-esrgan'],
  checkSampler: (s) => {
    if (!['Euler a', 'Euler'].includes(s)) throw new FarmError('unknown_sampler', 422, `unknown sampler "${s}"`);
  },
};
const ctx = { limits: { maxPixels: 256 * 256, maxSteps: 150, maxImagesPerRequest: 16 }, catalog, options: {}, styles: [] };
const body = { prompt: 'a field', width: 128, height: 128, steps: 4, init_images: ['iVBORw0KGgo='], script_name: 'SD upscale' };
const loc = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof A1111ValidationError, String(e));
    return e.detail[0].loc.slice(1);
  }
  assert.fail('no error');
};

test('script_args [info, overlap, upscaler index, scale]: given, defaulted (64, None, 2), or an upscaler name', () => {
  assert.deepEqual(parseA1111('img2img', { ...body, script_args: [null, 16, 1, 1.5] }, ctx).params.sd_upscale, {
    overlap: 16,
    upscaler: 'Lanczos',
    scale_factor: 1.5,
  });
  assert.deepEqual(parseA1111('img2img', { ...body, script_name: 'sd upscale' }, ctx).params.sd_upscale, { overlap: 64, upscaler: 'None', scale_factor: 2 });
  assert.deepEqual(parseA1111('img2img', { ...body, script_args: ['', 8, 3] }, ctx).params.sd_upscale?.upscaler, '4x-tiny-esrgan');
  assert.deepEqual(parseA1111('img2img', { ...body, script_args: ['', 8, 'Nearest'] }, ctx).params.sd_upscale?.upscaler, 'Nearest');
  const plain = parseA1111('img2img', { ...body, script_name: null }, ctx).params;
  const withScript = parseA1111('img2img', body, ctx).params;
  assert.notEqual(batchKey(plain), batchKey(withScript), 'SD upscale jobs never share a batch with plain img2img');
});

test('bad script args are 422 on script_args[i]; SD upscale on txt2img or another script is "not found"; a mask is refused', () => {
  assert.deepEqual(
    loc(() => parseA1111('img2img', { ...body, script_args: [null, 128] }, ctx)),
    ['script_args', 1],
    'overlap must be below the tile size',
  );
  assert.deepEqual(
    loc(() => parseA1111('img2img', { ...body, script_args: [null, 8, 9] }, ctx)),
    ['script_args', 2],
  );
  assert.deepEqual(
    loc(() => parseA1111('img2img', { ...body, script_args: [null, 8, 1, 0] }, ctx)),
    ['script_args', 3],
  );
  assert.deepEqual(
    loc(() => parseA1111('img2img', { ...body, mask: 'iVBORw0KGgo=' }, ctx)),
    ['mask'],
  );
  for (const [kind, name] of [
    ['txt2img', 'SD upscale'],
    ['img2img', 'X/Y/Z plot'],
  ] as const) {
    assert.throws(
      () => parseA1111(kind, { ...body, script_name: name }, ctx),
      (e: A1111HttpError) => e instanceof A1111HttpError && e.status === 422 && e.detail === `Script '${name}' not found`,
    );
  }
});
