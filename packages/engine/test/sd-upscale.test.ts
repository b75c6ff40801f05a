// A1111's SD upscale script: the grid (split_grid / combine_grid) worked out by hand, and a job on the tiny model
// whose output has the upscaled size and whose corner is exactly the first tile's own img2img.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { ensureTinyModel } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';
import { combineGrid, splitGrid } from '../src/upscale/sd-upscale';

test('split_grid: 96x80 in 64x64 tiles overlapping 16: two columns (x 0, 32) and two rows (y 0, 16)', () => {
  const g = splitGrid(96, 80, 64, 64, 16);
  assert.deepEqual(g.tiles, [
    [
      { x: 0, y: 0 },
      { x: 32, y: 0 },
    ],
    [
      { x: 0, y: 16 },
      { x: 32, y: 16 },
    ],
  ]);
  // 200 wide, 64 tiles, overlap 8: ceil(192 / 56) = 4 columns, dx = 136 / 3 = 45.33 -> 0, 45, 90, then 136 (flush)
  assert.deepEqual(
    splitGrid(200, 64, 64, 64, 8).tiles[0].map((t) => t.x),
    [0, 45, 90, 136],
  );
});

test('combine_grid: a black tile then a white one blend over the overlap with the 0..255 ramp, uint8(i * 255 / overlap)', () => {
  const g = splitGrid(96, 64, 64, 64, 16);
  const tile = (v: number) => ({ data: Buffer.alloc(64 * 64 * 3, v), width: 64, height: 64 });
  const out = combineGrid(g, [[tile(0), tile(255)]]);
  assert.deepEqual([out.width, out.height], [96, 64]);
  for (const y of [0, 40, 63]) {
    for (let x = 0; x < 96; x++) {
      const want = x < 32 ? 0 : x < 48 ? Math.floor(((x - 32) * 255) / 16) : 255;
      assert.equal(out.data[(y * 96 + x) * 3], want, `(${x}, ${y})`);
    }
  }
});

test('SD upscale on the tiny model: the upscaled size, the script in the infotext, and the first tile is its own img2img', async () => {
  const { modelsDir } = await ensureTinyModel();
  const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
  const raw = Buffer.alloc(48 * 40 * 3);
  for (let i = 0; i < 48 * 40; i++) {
    raw[i * 3] = (i * 5) % 256;
    raw[i * 3 + 1] = (i * 3) % 256;
    raw[i * 3 + 2] = 128;
  }
  const init = await sharp(raw, { raw: { width: 48, height: 40, channels: 3 } })
    .png()
    .toBuffer();
  const base: GenerationParams = {
    kind: 'img2img',
    model: 'tiny',
    prompt: 'a field',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 2,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 40,
    batch_size: 2,
    n_iter: 1,
    denoising_strength: 0.5,
    resize_mode: 0,
    loras: [],
    controlnet: [],
    init_image: init.toString('base64'),
  };
  const steps: [number, number][] = [];
  const [r] = await engine.generate([{ id: 'u', params: { ...base, sd_upscale: { overlap: 16, upscaler: 'Lanczos', scale_factor: 2 } } }], {
    onStep: (s, n) => steps.push([s, n]),
  });
  const out = await sharp(r.images[0]).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([out.info.width, out.info.height], [96, 80]);
  const info = parseInfotext(readPngText(r.images[0]).parameters);
  assert.deepEqual([info['SD upscale overlap'], info['SD upscale upscaler'], info.Size, info.Seed], ['16', 'Lanczos', '64x64', '40']);
  // 4 tiles, 2 per call: 2 calls of 1 step each (strength 0.5 of 2 steps)
  assert.deepEqual(steps.at(-1), [2, 2]);
  // tile (0, 0) is the top-left 64x64 of the Lanczos x2 image, run alone with the first seed; nothing else covers x < 32, y < 16
  const up = await sharp(init).resize(96, 80, { fit: 'fill', kernel: 'lanczos3' }).extract({ left: 0, top: 0, width: 64, height: 64 }).png().toBuffer();
  const [alone] = await engine.generate([{ id: 'a', params: { ...base, init_image: up.toString('base64'), batch_size: 1 } }]);
  const a = await sharp(alone.images[0]).raw().toBuffer();
  for (let y = 0; y < 16; y++)
    for (let x = 0; x < 32; x++)
      for (let c = 0; c < 3; c++) {
        assert.equal(out.data[(y * 96 + x) * 3 + c], a[(y * 64 + x) * 3 + c], `(${x}, ${y})`);
      }
  await engine.close();
});
