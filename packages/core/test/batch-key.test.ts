import { test } from 'vitest';
import assert from 'node:assert/strict';
import { batchKey, type GenerationParams } from '../src/index';

const base: GenerationParams = {
  kind: 'txt2img',
  model: 'tiny',
  prompt: 'a',
  negative_prompt: '',
  sampler: 'Euler a',
  scheduler: 'Automatic',
  steps: 20,
  cfg_scale: 7,
  width: 64,
  height: 64,
  seed: 1,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [],
  controlnet: [],
};
const unit = {
  image: 'AAAA',
  module: 'canny' as const,
  model: 'default',
  weight: 1,
  guidance_start: 0,
  guidance_end: 1,
  processor_res: 512,
  threshold_a: 100,
  threshold_b: 200,
};

test('prompts, seeds, CFG and ControlNet weights may differ within a batch', () => {
  assert.equal(batchKey(base), batchKey({ ...base, prompt: 'b', negative_prompt: 'c', seed: 9, cfg_scale: 3, batch_size: 2 }));
  assert.equal(batchKey({ ...base, controlnet: [unit] }), batchKey({ ...base, controlnet: [{ ...unit, weight: 0.3, image: 'BBBB' }] }));
});

const hires = {
  hr_scale: 2,
  hr_resize_x: 0,
  hr_resize_y: 0,
  hr_upscaler: 'Latent',
  hr_upscaler_given: false,
  hr_second_pass_steps: 0,
  hr_prompt: '',
  hr_negative_prompt: '',
  denoising_strength: 0.5,
};

test('hires settings, img2img strength and tiling are part of the key; inpainting masks are not', () => {
  for (const h of [
    { hr_scale: 1.5 },
    { hr_upscaler: 'Lanczos' },
    { hr_second_pass_steps: 3 },
    { denoising_strength: 0.6 },
    { hr_sampler_name: 'DDIM' },
    { hr_resize_x: 128 },
  ]) {
    assert.notEqual(batchKey({ ...base, hires: { ...hires, ...h } }), batchKey({ ...base, hires }), JSON.stringify(h));
  }
  assert.equal(batchKey({ ...base, hires: { ...hires, hr_prompt: 'x', hr_cfg: 3 } }), batchKey({ ...base, hires }));
  const i2i: GenerationParams = { ...base, kind: 'img2img', init_image: 'AAAA' };
  assert.notEqual(batchKey({ ...i2i, denoising_strength: 0.5 }), batchKey(i2i));
  const ip = {
    mask: 'AAAA',
    mask_blur_x: 4,
    mask_blur_y: 4,
    inpainting_fill: 1 as const,
    inpaint_full_res: false,
    inpaint_full_res_padding: 0,
    inpainting_mask_invert: false,
    mask_round: true,
  };
  assert.equal(batchKey({ ...i2i, inpaint: ip }), batchKey({ ...i2i, inpaint: { ...ip, mask: 'BBBB', inpainting_fill: 2 } }));
});

test('weights, shapes, schedules, kinds and ControlNet use separate batches', () => {
  const variants: Partial<GenerationParams>[] = [
    { model: 'other' },
    { width: 128 },
    { height: 128 },
    { steps: 30 },
    { sampler: 'DDIM' },
    { scheduler: 'Karras' },
    { kind: 'img2img' },
    { loras: [{ name: 'x', weight: 1 }] },
    { prompt: 'a <lora:x:0.5>' },
    { controlnet: [unit] },
    { tiling: true },
    { hires: hires },
    { kind: 'extras' },
  ];
  for (const v of variants) assert.notEqual(batchKey({ ...base, ...v }), batchKey(base), JSON.stringify(v));
  assert.equal(
    batchKey({
      ...base,
      loras: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 2 },
      ],
    }),
    batchKey({
      ...base,
      loras: [
        { name: 'b', weight: 2 },
        { name: 'a', weight: 1 },
      ],
    }),
  );
});
