import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { ControlNetUnit, GenerationParams } from '@farm/core';
import { ensureTinyModel } from '@farm/testkit';
import { canny } from '../src/controlnet';
import { Engine } from '../src/index';

const W = 32;
const H = 24;
// a white rectangle x in [8, 20), y in [6, 16) on black
const rect = (value = 255) =>
  Uint8Array.from({ length: W * H }, (_, i) => {
    const x = i % W;
    const y = Math.floor(i / W);
    return x >= 8 && x < 20 && y >= 6 && y < 16 ? value : 0;
  });
const onBorder = (x: number, y: number) => {
  const nearX = x >= 7 && x <= 20;
  const nearY = y >= 5 && y <= 16;
  const inside = x >= 9 && x <= 18 && y >= 7 && y <= 14;
  return nearX && nearY && !inside;
};

test('canny finds a drawn rectangle: edges on its border only, one pixel wide, a closed loop', () => {
  const edges = canny(rect(), W, H, 100, 200);
  const points: [number, number][] = [];
  edges.forEach((v, i) => {
    if (v) points.push([i % W, Math.floor(i / W)]);
  });
  assert.ok(points.length > 0);
  for (const [x, y] of points) assert.ok(onBorder(x, y), `edge at (${x}, ${y}) is off the border`);
  // every column across the top and bottom sides, and every row along the left and right, has exactly one edge pixel
  for (let x = 9; x <= 18; x++) {
    assert.equal(points.filter(([px, py]) => px === x && py <= 7).length, 1, `top side, column ${x}`);
    assert.equal(points.filter(([px, py]) => px === x && py >= 14).length, 1, `bottom side, column ${x}`);
  }
  for (let y = 7; y <= 14; y++) {
    assert.equal(points.filter(([px, py]) => py === y && px <= 9).length, 1, `left side, row ${y}`);
    assert.equal(points.filter(([px, py]) => py === y && px >= 18).length, 1, `right side, row ${y}`);
  }
});

test('canny thresholds: above the strongest gradient nothing; a weak edge survives only when tied to a strong one', () => {
  assert.equal(
    canny(rect(), W, H, 1000, 2000).reduce((a, b) => a + b, 0),
    0,
  );
  // a faint rectangle (sides 4 * 30 = 120, corners at most 180) is between low 100 and high 200: dropped alone ...
  assert.equal(
    canny(rect(30), W, H, 100, 200).reduce((a, b) => a + b, 0),
    0,
  );
  // ... but kept when a strong edge touches it: brighten one corner so part of the border is strong
  const mixed = rect(30);
  for (let y = 6; y < 9; y++) for (let x = 8; x < 11; x++) mixed[y * W + x] = 255;
  const edges = canny(mixed, W, H, 100, 200);
  const count = edges.reduce((n, v) => n + (v ? 1 : 0), 0);
  assert.ok(count > 30, `the weak border is reached from the strong corner (${count} edge pixels)`);
});

test('ControlNet in the pipeline: weight 0 equals no ControlNet, weight 1 follows the control map', async () => {
  const { modelsDir } = await ensureTinyModel();
  const engine = new Engine({ modelsDir, maxPixels: 1 << 20, maxSteps: 50 });
  const base: GenerationParams = {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a house',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 6,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 3,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
  };
  const drawn = async (x0: number) =>
    (
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
        .composite([{ input: { create: { width: 20, height: 30, channels: 3, background: '#fff' } }, left: x0, top: 10 }])
        .png()
        .toBuffer()
    ).toString('base64');
  const unit = (image: string, weight: number): ControlNetUnit => ({
    image,
    module: 'canny',
    model: 'default',
    weight,
    guidance_start: 0,
    guidance_end: 1,
    processor_res: 512,
    threshold_a: 100,
    threshold_b: 200,
  });
  const run = async (controlnet: ControlNetUnit[]) =>
    sharp((await engine.generate([{ id: 'c', params: { ...base, controlnet } }]))[0].images[0])
      .raw()
      .toBuffer();
  const plain = await run([]);
  const left = await drawn(5);
  const zero = await run([unit(left, 0)]);
  assert.ok(
    zero.every((v, i) => Math.abs(v - plain[i]) <= 1),
    'weight 0 gives the image without ControlNet',
  );
  const withLeft = await run([unit(left, 1)]);
  const withRight = await run([unit(await drawn(35), 1)]);
  const diff = (a: Buffer, b: Buffer) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
  assert.ok(diff(withLeft, plain) > 1, 'weight 1 changes the image');
  assert.ok(diff(withLeft, withRight) > 1, 'a different control map gives a different image');
  const twoUnits = await run([unit(left, 0.5), unit(left, 0.5)]);
  const oneUnit = await run([unit(left, 1)]);
  assert.ok(
    twoUnits.every((v, i) => Math.abs(v - oneUnit[i]) <= 2),
    'two units add up',
  );
  const outside = await run([{ ...unit(left, 1), guidance_start: 0.99, guidance_end: 1 }]);
  assert.ok(diff(outside, plain) < diff(withLeft, plain), 'a unit active only at the very end changes less');
  await engine.close();
});
