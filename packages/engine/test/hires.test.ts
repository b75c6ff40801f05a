import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { LATENT_UPSCALE_MODES, type GenerationParams, type HiresParams } from '@farm/core';
import { ensureTinyModel, ensureTinyUpscaler } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';

const { modelsDir } = await ensureTinyModel();
const { upscalersDir, name: modelUpscaler } = await ensureTinyUpscaler();
const engine = new Engine({ modelsDir, upscalersDir, maxPixels: 256 * 256, maxSteps: 150 });

const hires = (over: Partial<HiresParams> = {}): HiresParams => ({
  hr_scale: 2,
  hr_resize_x: 0,
  hr_resize_y: 0,
  hr_upscaler: 'Latent',
  hr_upscaler_given: true,
  hr_second_pass_steps: 2,
  hr_prompt: '',
  hr_negative_prompt: '',
  denoising_strength: 0.5,
  ...over,
});
const base = (h: HiresParams, over: Partial<GenerationParams> = {}): GenerationParams => ({
  kind: 'txt2img',
  model: 'tiny',
  prompt: 'a lighthouse',
  negative_prompt: '',
  sampler: 'Euler a',
  scheduler: 'Automatic',
  steps: 2,
  cfg_scale: 7,
  width: 64,
  height: 64,
  seed: 5,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [],
  controlnet: [],
  hires: h,
  ...over,
});

test('hr_scale 2 doubles the size with every latent mode and every pixel upscaler; infotext has the Hires fields', async () => {
  const names = [...Object.keys(LATENT_UPSCALE_MODES), 'None', 'Lanczos', 'Nearest', modelUpscaler];
  const pixelsOf = new Map<string, string>();
  for (const name of names) {
    const r = (await engine.generate([{ id: name, params: base(hires({ hr_upscaler: name })) }]))[0];
    const meta = await sharp(r.images[0]).metadata();
    assert.deepEqual([meta.width, meta.height], [128, 128], name);
    const info = parseInfotext(readPngText(r.images[0]).parameters);
    assert.equal(info['Hires upscaler'], name);
    assert.equal(info['Hires upscale'], '2');
    assert.equal(info['Hires steps'], '2');
    assert.equal(info['Denoising strength'], '0.5');
    assert.equal(info.Size, '64x64', 'Size is the first pass, as in A1111');
    pixelsOf.set(name, (await sharp(r.images[0]).raw().toBuffer()).toString('hex'));
  }
  // For an exact 2x upscale these pairs coincide in A1111 too: antialiasing only acts when shrinking, nearest and
  // nearest-exact pick the same source pixels, and "None" resizes with Lanczos just as the Lanczos upscaler does.
  const same = [
    ['Latent', 'Latent (antialiased)'],
    ['Latent (nearest)', 'Latent (nearest-exact)'],
    ['None', 'Lanczos'],
  ];
  for (const [a, b] of same) assert.equal(pixelsOf.get(a), pixelsOf.get(b), `${a} = ${b}`);
  assert.equal(new Set(pixelsOf.values()).size, names.length - same.length, 'every other upscaler gives a different image');
});

test('hires resize to another aspect ratio truncates the latent; progress counts both passes; hires prompt and sampler', async () => {
  const steps: [number, number][] = [];
  const p = base(hires({ hr_resize_x: 128, hr_resize_y: 96, hr_sampler_name: 'DDIM', hr_prompt: 'a storm', hr_cfg: 3 }), { seed: 9 });
  const r = (await engine.generate([{ id: 'a', params: p }], { onStep: (s, n) => steps.push([s, n]) }))[0];
  const meta = await sharp(r.images[0]).metadata();
  assert.deepEqual([meta.width, meta.height], [128, 96]);
  // first pass 2 steps, second pass 2 steps at strength 0.5 -> 1 step
  assert.deepEqual(steps, [
    [1, 3],
    [2, 3],
    [3, 3],
  ]);
  const info = parseInfotext(readPngText(r.images[0]).parameters);
  assert.equal(info['Hires resize'], '128x96');
  assert.equal(info['Hires sampler'], 'DDIM');
  assert.equal(info['Hires prompt'], 'a storm');
  assert.equal(info['Hires CFG Scale'], '3');
  const plain = (await engine.generate([{ id: 'a', params: { ...p, hires: hires({ hr_resize_x: 128, hr_resize_y: 96, hr_sampler_name: 'DDIM' }) } }]))[0];
  assert.ok(!plain.images[0].equals(r.images[0]), 'the hires prompt and CFG change the image');
});
