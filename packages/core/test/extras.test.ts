// A1111 extras bodies: defaults, pydantic-style 422s, what the farm refuses by name, sizes and infotext.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  A1111ValidationError,
  ValidationError,
  checkExtrasSize,
  extrasInfotext,
  extrasOutputSize,
  parseA1111Extras,
  parseExtrasJobRequest,
  plaintextToHtml,
} from '../src/index';

const detail = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof A1111ValidationError, String(e));
    return e.detail;
  }
  assert.fail('no error');
};

test("defaults are ExtrasBaseRequest's; data: URLs are stripped", () => {
  const r = parseA1111Extras('single', { image: 'data:image/png;base64,AAAA' }, []);
  assert.deepEqual(r.extras, {
    resize_mode: 0,
    upscaling_resize: 2,
    upscaling_resize_w: 512,
    upscaling_resize_h: 512,
    upscaling_crop: true,
    upscaler_1: 'None',
    upscaler_2: 'None',
    extras_upscaler_2_visibility: 0,
  });
  assert.deepEqual(r.images, [{ data: 'AAAA', name: '' }]);
});

test('bad values answer 422 naming the field, as pydantic does', () => {
  assert.deepEqual(detail(() => parseA1111Extras('single', { image: 'x', resize_mode: 2 }, []))[0].loc, ['body', 'resize_mode']);
  assert.deepEqual(detail(() => parseA1111Extras('single', { image: 'x', upscaling_resize: 0 }, []))[0], {
    loc: ['body', 'upscaling_resize'],
    msg: 'ensure this value is greater than 0',
    type: 'value_error.number.not_gt',
  });
  assert.deepEqual(detail(() => parseA1111Extras('single', { image: 'x', extras_upscaler_2_visibility: 1.5 }, []))[0].loc, [
    'body',
    'extras_upscaler_2_visibility',
  ]);
  assert.deepEqual(detail(() => parseA1111Extras('single', { image: 'x', upscaler_1: null }, []))[0].type, 'type_error.none.not_allowed');
  assert.deepEqual(detail(() => parseA1111Extras('batch', {}, []))[0].loc, ['body', 'imageList']);
  assert.deepEqual(detail(() => parseA1111Extras('batch', { imageList: [{ data: 'x' }] }, []))[0].loc, ['body', 'imageList', 0, 'name']);
});

test('face restoration and unknown upscalers are refused by name; upscaler_2 only matters after upscaler_1', () => {
  for (const field of ['gfpgan_visibility', 'codeformer_visibility']) {
    const d = detail(() => parseA1111Extras('single', { image: 'x', [field]: 0.5 }, []));
    assert.deepEqual([d[0].loc, d[0].type], [['body', field], 'value_error.unsupported']);
  }
  // codeformer_weight and upscale_first do nothing without a face restorer running
  parseA1111Extras('single', { image: 'x', codeformer_weight: 0.9, upscale_first: true }, []);
  assert.deepEqual(detail(() => parseA1111Extras('single', { image: 'x', upscaler_1: 'ESRGAN_4x' }, []))[0].loc, ['body', 'upscaler_1']);
  assert.deepEqual(detail(() => parseA1111Extras('single', { image: 'x', upscaler_1: 'Lanczos', upscaler_2: 'Latent' }, []))[0].loc, ['body', 'upscaler_2']);
  parseA1111Extras('single', { image: 'x', upscaler_1: 'None', upscaler_2: 'nope' }, []);
  parseA1111Extras('single', { image: 'x', upscaler_1: 'my-4x' }, ['my-4x']);
});

test('the native body: kind extras, strict, errors name the field', () => {
  const r = parseExtrasJobRequest({ kind: 'extras', image: 'AAAA', upscaler_1: 'Lanczos', webhook: 'http://example.com/h' }, []);
  assert.equal(r.request.extras.upscaler_1, 'Lanczos');
  assert.deepEqual(r.webhook, { url: 'http://example.com/h' });
  assert.throws(() => parseExtrasJobRequest({ kind: 'extras', image: 'AAAA', prompt: 'x' }, []), ValidationError);
  assert.throws(
    () => parseExtrasJobRequest({ kind: 'extras', image: 'AAAA', gfpgan_visibility: 1 }, []),
    (e: ValidationError) => e.field === 'gfpgan_visibility',
  );
  assert.throws(
    () => parseExtrasJobRequest({ kind: 'extras', image: 'AAAA', upscaler_1: 'x' }, []),
    (e: ValidationError) => e.field === 'upscaler_1',
  );
});

test('output size: int(w * scale) // 8 * 8; crop to fit gives the target; None keeps the size', () => {
  const base = parseA1111Extras('single', { image: 'x', upscaler_1: 'Lanczos' }, []).extras;
  assert.deepEqual(extrasOutputSize(100, 75, { ...base, upscaling_resize: 1.5 }), { width: 144, height: 112 });
  assert.deepEqual(extrasOutputSize(30, 20, { ...base, resize_mode: 1, upscaling_resize_w: 100, upscaling_resize_h: 100, upscaling_crop: false }), {
    width: 144,
    height: 96,
  });
  assert.deepEqual(extrasOutputSize(30, 20, { ...base, resize_mode: 1, upscaling_resize_w: 100, upscaling_resize_h: 90 }), { width: 100, height: 90 });
  assert.deepEqual(extrasOutputSize(33, 17, { ...base, upscaler_1: 'None' }), { width: 33, height: 17 });
  assert.throws(
    () => checkExtrasSize(4, 4, { ...base, upscaling_resize: 1 }),
    (e: ValidationError) => e.field === 'upscaling_resize',
  );
  assert.throws(
    () => checkExtrasSize(1024, 1024, { ...base, upscaling_resize: 8 }),
    (e: ValidationError) => e.field === 'upscaling_resize',
  );
});

test('infotext and html_info as A1111 writes them', () => {
  const base = parseA1111Extras('single', { image: 'x', upscaler_1: 'Lanczos', upscaling_resize: 1.5 }, []).extras;
  assert.equal(extrasInfotext(base), 'Postprocess upscale by: 1.5, Postprocess upscaler: Lanczos');
  assert.equal(extrasInfotext({ ...base, upscaler_1: 'a, b' }), 'Postprocess upscale by: 1.5, Postprocess upscaler: "a, b"');
  assert.equal(plaintextToHtml('a<b\n"c"'), '<p>a&lt;b<br>\n&quot;c&quot;</p>');
  assert.equal(plaintextToHtml(''), '<p></p>');
});
