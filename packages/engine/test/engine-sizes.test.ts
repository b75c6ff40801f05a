// Any multiple of 8: the generated UNet's upsamplers take their skip connection's size (diffusers' upsample_size),
// so latents whose sides do not halve evenly run, with and without ControlNet.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { ensureTinyModel, txt2imgParams } from '@farm/testkit';
import { Engine } from '../src/index';

const { modelsDir } = await ensureTinyModel();
const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
const base: GenerationParams = txt2imgParams();

test('sizes whose latents do not halve evenly render at their size (72x104, 136x88, 200x120)', async () => {
  for (const [width, height] of [
    [72, 104],
    [136, 88],
    [200, 120],
  ]) {
    const [r] = await engine.generate([{ id: 'j', params: { ...base, width, height } }]);
    const meta = await sharp(r.images[0]).metadata();
    assert.deepEqual([meta.width, meta.height], [width, height]);
    const px = await sharp(r.images[0]).raw().toBuffer();
    assert.ok(new Set(px).size > 30, `${width}x${height} has real variation`);
  }
});

test('an odd-latent size with a ControlNet unit and img2img runs too', async () => {
  const control = (
    await sharp({ create: { width: 72, height: 104, channels: 3, background: '#808080' } })
      .png()
      .toBuffer()
  ).toString('base64');
  const unit = {
    image: control,
    module: 'none' as const,
    model: 'default',
    weight: 1,
    guidance_start: 0,
    guidance_end: 1,
    processor_res: 512,
    threshold_a: 100,
    threshold_b: 200,
  };
  const [cn] = await engine.generate([{ id: 'c', params: { ...base, width: 72, height: 104, controlnet: [unit] } }]);
  assert.equal((await sharp(cn.images[0]).metadata()).width, 72);
  const [i2i] = await engine.generate([
    { id: 'i', params: { ...base, kind: 'img2img', init_image: control, width: 72, height: 104, denoising_strength: 0.5 } },
  ]);
  assert.equal((await sharp(i2i.images[0]).metadata()).height, 104);
});
