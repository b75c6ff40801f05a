import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { GenerationParams, InpaintParams } from '@farm/core';
import { ensureTinyInpaintModel, ensureTinyModel } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';

const { modelsDir } = await ensureTinyModel();
const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });

/** A textured init image: gradients plus a checker, so any repaint shows. */
async function initPng(width: number, height: number): Promise<{ png: string; rgb: Buffer }> {
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const check = ((x >> 3) + (y >> 3)) % 2 ? 60 : 0;
      rgb[i] = (x * 255) / width;
      rgb[i + 1] = (y * 255) / height;
      rgb[i + 2] = 100 + check;
    }
  }
  return {
    png: (
      await sharp(rgb, { raw: { width, height, channels: 3 } })
        .png()
        .toBuffer()
    ).toString('base64'),
    rgb,
  };
}

/** White rectangle [x1, x2) x [y1, y2) on black. */
async function maskPng(width: number, height: number, [x1, y1, x2, y2]: number[]): Promise<string> {
  const px = Buffer.alloc(width * height);
  for (let y = y1; y < y2; y++) px.fill(255, y * width + x1, y * width + x2);
  return (
    await sharp(px, { raw: { width, height, channels: 1 } })
      .png()
      .toBuffer()
  ).toString('base64');
}

const inpaint = (mask: string, over: Partial<InpaintParams> = {}): InpaintParams => ({
  mask,
  mask_blur_x: 4,
  mask_blur_y: 4,
  inpainting_fill: 1,
  inpaint_full_res: false,
  inpaint_full_res_padding: 0,
  inpainting_mask_invert: false,
  mask_round: true,
  ...over,
});

const base = (init: string, ip: InpaintParams, over: Partial<GenerationParams> = {}): GenerationParams => ({
  kind: 'img2img',
  model: 'tiny',
  prompt: 'a red apple',
  negative_prompt: '',
  sampler: 'Euler a',
  scheduler: 'Automatic',
  steps: 4,
  cfg_scale: 7,
  width: 64,
  height: 64,
  seed: 7,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.9,
  resize_mode: 0,
  loras: [],
  controlnet: [],
  init_image: init,
  inpaint: ip,
  ...over,
});

/** mask_blur 4 has a 21-tap kernel: the blurred mask is exactly 0 further than 10 px from the rectangle. */
const BLUR_REACH = 10;
const far = (x: number, y: number, [x1, y1, x2, y2]: number[]) => x < x1 - BLUR_REACH || x >= x2 + BLUR_REACH || y < y1 - BLUR_REACH || y >= y2 + BLUR_REACH;
const deepInside = (x: number, y: number, [x1, y1, x2, y2]: number[], margin: number) =>
  x >= x1 + margin && x < x2 - margin && y >= y1 + margin && y < y2 - margin;

function compare(
  out: Buffer,
  init: Buffer,
  width: number,
  height: number,
  keep: (x: number, y: number) => boolean,
  repaint: (x: number, y: number) => boolean,
) {
  let kept = 0;
  let keptSame = 0;
  let changed = 0;
  let repainted = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const d = Math.abs(out[i] - init[i]) + Math.abs(out[i + 1] - init[i + 1]) + Math.abs(out[i + 2] - init[i + 2]);
      if (keep(x, y)) {
        kept++;
        if (d === 0) keptSame++;
      }
      if (repaint(x, y)) {
        repainted++;
        changed += d;
      }
    }
  }
  assert.ok(kept > 0 && repainted > 0, 'the test regions are not empty');
  assert.equal(keptSame, kept, `${kept - keptSame} of ${kept} pixels outside the blurred mask changed`);
  assert.ok(changed / repainted > 20, `pixels inside the mask changed on average by ${changed / repainted} (sum over RGB)`);
}

test('inpainting: pixels outside the blurred mask are the init image, pixels inside are repainted; infotext has the mask fields', async () => {
  const { png, rgb } = await initPng(64, 64);
  const rect = [20, 20, 44, 44];
  const r = (await engine.generate([{ id: 'a', params: base(png, inpaint(await maskPng(64, 64, rect))) }]))[0];
  const out = await sharp(r.images[0]).raw().toBuffer();
  compare(
    out,
    rgb,
    64,
    64,
    (x, y) => far(x, y, rect),
    (x, y) => deepInside(x, y, rect, 4),
  );
  const info = parseInfotext(readPngText(r.images[0]).parameters);
  assert.equal(info['Mask blur'], '4');
  assert.equal(info['Denoising strength'], '0.9');
});

test('inpainting_mask_invert repaints outside the mask and keeps inside', async () => {
  const { png, rgb } = await initPng(64, 64);
  const rect = [8, 8, 56, 56];
  const r = (
    await engine.generate([{ id: 'a', params: base(png, inpaint(await maskPng(64, 64, rect), { inpainting_mask_invert: true, inpainting_fill: 0 })) }])
  )[0];
  const out = await sharp(r.images[0]).raw().toBuffer();
  compare(
    out,
    rgb,
    64,
    64,
    (x, y) => deepInside(x, y, rect, BLUR_REACH),
    (x, y) => !deepInside(x, y, [4, 4, 60, 60], -4) || x < 2 || y < 2 || x > 61 || y > 61,
  );
  assert.equal(parseInfotext(readPngText(r.images[0]).parameters)['Mask mode'], 'Inpaint not masked');
});

test('inpaint_full_res works on the crop at full resolution and pastes it back into the original size', async () => {
  const { png, rgb } = await initPng(128, 96);
  const rect = [80, 20, 100, 40];
  for (const fill of [2, 3] as const) {
    const r = (
      await engine.generate([
        { id: 'a', params: base(png, inpaint(await maskPng(128, 96, rect), { inpaint_full_res: true, inpaint_full_res_padding: 8, inpainting_fill: fill })) },
      ])
    )[0];
    const meta = await sharp(r.images[0]).metadata();
    assert.deepEqual([meta.width, meta.height], [128, 96], 'the result has the init image size');
    const out = await sharp(r.images[0]).raw().toBuffer();
    compare(
      out,
      rgb,
      128,
      96,
      (x, y) => far(x, y, rect),
      (x, y) => deepInside(x, y, rect, 4),
    );
    const info = parseInfotext(readPngText(r.images[0]).parameters);
    assert.equal(info['Inpaint area'], 'Only masked');
    assert.equal(info['Masked area padding'], '8');
    assert.equal(info['Size'], '64x64');
  }
});

test('a 9-channel inpainting model gets mask and masked image as extra channels; outside the mask stays the init image', async () => {
  const { modelsDir: extra } = await ensureTinyInpaintModel();
  const e9 = new Engine({ modelsDir: extra, maxPixels: 256 * 256, maxSteps: 150 });
  try {
    const { png, rgb } = await initPng(64, 64);
    const rect = [20, 20, 44, 44];
    const params = base(png, inpaint(await maskPng(64, 64, rect)), { model: 'tiny-inpaint' });
    const r = (await e9.generate([{ id: 'a', params }]))[0];
    const out = await sharp(r.images[0]).raw().toBuffer();
    compare(
      out,
      rgb,
      64,
      64,
      (x, y) => far(x, y, rect),
      (x, y) => deepInside(x, y, rect, 4),
    );
    assert.equal(parseInfotext(readPngText(r.images[0]).parameters)['Conditional mask weight'], '1');
    // the conditioning mask weight reaches the UNet: weight 0 shows it the unmasked image, which changes the repaint
    const weak = (await e9.generate([{ id: 'a', params: { ...params, inpainting_mask_weight: 0 } }]))[0];
    assert.ok(!weak.images[0].equals(r.images[0]));
    // txt2img on an inpainting model runs too (whole image masked)
    const t = (await e9.generate([{ id: 't', params: { ...params, kind: 'txt2img', init_image: undefined, inpaint: undefined } }]))[0];
    assert.equal((await sharp(t.images[0]).metadata()).width, 64);
  } finally {
    await e9.close();
  }
});
