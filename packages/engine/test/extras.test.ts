// Extras jobs (A1111's postprocessing upscale) in the engine: sizes, crop, the second upscaler's blend, infotext and
// the PNG text chunks, and a model upscaler on an image larger than one tile.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { extrasJobParams, type ExtrasParams } from '@farm/core';
import { ensureTinyUpscaler } from '@farm/testkit';
import { Engine, readPngText, addPngText } from '../src/index';

const { upscalersDir, name: modelUpscaler } = await ensureTinyUpscaler();
const engine = new Engine({ modelsDir: '/nonexistent', upscalersDir, maxPixels: 256 * 256, maxSteps: 150 });

const fields = (over: Partial<ExtrasParams> = {}): ExtrasParams => ({
  resize_mode: 0,
  upscaling_resize: 2,
  upscaling_resize_w: 512,
  upscaling_resize_h: 512,
  upscaling_crop: true,
  upscaler_1: 'Lanczos',
  upscaler_2: 'None',
  extras_upscaler_2_visibility: 0,
  ...over,
});

/** A w x h RGB(A) PNG of a smooth, position-dependent pattern. */
async function pattern(w: number, h: number, channels: 3 | 4 = 3): Promise<Buffer> {
  const data = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * channels;
      data[o] = (x * 7) % 256;
      data[o + 1] = (y * 11) % 256;
      data[o + 2] = ((x + y) * 5) % 256;
      if (channels === 4) data[o + 3] = 128;
    }
  return sharp(data, { raw: { width: w, height: h, channels } })
    .png()
    .toBuffer();
}

const run = async (png: Buffer, e: ExtrasParams, onStep?: (s: number, n: number) => void) => {
  const r = (
    await engine.generate([{ id: 'x', params: extrasJobParams({ data: png.toString('base64'), name: '' }, e, 'any', { width: 0, height: 0 }) }], { onStep })
  )[0];
  const raw = await sharp(r.images[0]).raw().toBuffer({ resolveWithObject: true });
  return { r, raw: raw.data, width: raw.info.width, height: raw.info.height, channels: raw.info.channels };
};

test("Lanczos x2 doubles the size; the infotext is A1111's; the input's parameters chunk travels on", async () => {
  const png = addPngText(await pattern(40, 24), 'parameters', 'a lighthouse\nSteps: 20');
  const { r, width, height, channels } = await run(png, fields());
  assert.deepEqual([width, height, channels], [80, 48, 3]);
  assert.equal(r.infotexts[0], 'Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos');
  const texts = readPngText(r.images[0]);
  assert.equal(texts.parameters, 'a lighthouse\nSteps: 20');
  assert.equal(texts.postprocessing, 'Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos');
});

test('sizes round down to multiples of 8 as Upscaler.upscale does; alpha is dropped', async () => {
  // 100 x 1.5 = 150 -> 144; 75 x 1.5 = 112.5 -> 112
  const { width, height, channels } = await run(await pattern(100, 75, 4), fields({ upscaling_resize: 1.5, upscaler_1: 'Nearest' }));
  assert.deepEqual([width, height, channels], [144, 112, 3]);
});

test('upscaler_1 None returns the image unchanged with an empty infotext', async () => {
  const png = await pattern(33, 17);
  const { r, raw, width, height } = await run(png, fields({ upscaler_1: 'None', upscaler_2: 'Lanczos', extras_upscaler_2_visibility: 1 }));
  assert.deepEqual([width, height], [33, 17]);
  assert.ok(raw.equals(await sharp(png).raw().toBuffer()));
  assert.equal(r.infotexts[0], '');
});

test('resize_mode 1 with crop: scale to cover, then the centre cut out on the target canvas', async () => {
  const png = await pattern(30, 20);
  // scale max(100/30, 100/20) = 5 -> 150x100, rounded down to multiples of 8: 144x96; pasted at (50 - 72, 50 - 48) = (-22, 2)
  const uncropped = await run(png, fields({ resize_mode: 1, upscaling_resize_w: 100, upscaling_resize_h: 100, upscaling_crop: false, upscaler_1: 'Nearest' }));
  assert.deepEqual([uncropped.width, uncropped.height], [144, 96]);
  assert.equal(uncropped.r.infotexts[0], 'Postprocess upscale to: 100x100, Postprocess upscaler: Nearest');
  const cropped = await run(png, fields({ resize_mode: 1, upscaling_resize_w: 100, upscaling_resize_h: 100, upscaling_crop: true, upscaler_1: 'Nearest' }));
  assert.deepEqual([cropped.width, cropped.height], [100, 100]);
  assert.equal(cropped.r.infotexts[0], 'Postprocess upscale to: 100x100, Postprocess crop to: 100x100, Postprocess upscaler: Nearest');
  for (let y = 0; y < 100; y++) {
    const row = cropped.raw.subarray(y * 300, (y + 1) * 300);
    if (y < 2 || y >= 98)
      assert.ok(
        row.every((v) => v === 0),
        `row ${y} is the black canvas`,
      );
    else assert.ok(row.equals(uncropped.raw.subarray(((y - 2) * 144 + 22) * 3, ((y - 2) * 144 + 122) * 3)), `row ${y}`);
  }
});

test('upscaler_2 is blended in at its visibility (PIL blend: truncated)', async () => {
  const png = await pattern(24, 16);
  const a = await run(png, fields({ upscaler_1: 'Lanczos' }));
  const b = await run(png, fields({ upscaler_1: 'Nearest' }));
  const mixed = await run(png, fields({ upscaler_1: 'Lanczos', upscaler_2: 'Nearest', extras_upscaler_2_visibility: 0.25 }));
  assert.equal(mixed.r.infotexts[0], 'Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos, Postprocess upscaler 2: Nearest');
  let differs = 0;
  for (let i = 0; i < a.raw.length; i++) {
    // 0.25 x an integer is exact in float32, so the reference is exact: trunc(a + 0.25 (b - a))
    assert.equal(mixed.raw[i], Math.trunc(a.raw[i] + 0.25 * (b.raw[i] - a.raw[i])), `byte ${i}`);
    if (a.raw[i] !== b.raw[i]) differs++;
  }
  assert.ok(differs > 100, 'the two upscalers differ, so the blend is tested');
});

test('a model upscaler on an image larger than one tile (192 px) gives the asked size, reporting progress per tile', async () => {
  const steps: number[] = [];
  const { width, height } = await run(await pattern(200, 24), fields({ upscaler_1: modelUpscaler }), (s, n) => {
    assert.equal(n, 100);
    steps.push(s);
  });
  assert.deepEqual([width, height], [400, 48]);
  assert.ok(steps.length >= 2 && steps.at(-1) === 100, `progress ${steps.join(',')}`);
});

test('an upscale past the pixel limit is a ValidationError naming the field', async () => {
  await assert.rejects(run(await pattern(64, 64), fields({ upscaling_resize: 100 })), (e: Error & { field?: string }) => e.field === 'upscaling_resize');
  await assert.rejects(run(await pattern(64, 64), fields({ upscaler_1: 'nope' })), (e: Error & { field?: string }) => e.field === 'upscaler_1');
});
