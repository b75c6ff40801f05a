import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { addPngText, readPngText, crc32, buildInfotext, parseInfotext } from '../src/png';

const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } })
  .png()
  .toBuffer();

test('crc32 matches the PNG reference value', () => {
  assert.equal(crc32(Buffer.from('IEND')), 0xae426082);
});

test('text chunks round trip, latin-1 as tEXt and unicode as iTXt, and the PNG stays decodable', async () => {
  const withLatin = addPngText(png, 'parameters', 'a cat\nSteps: 20');
  assert.deepEqual(readPngText(withLatin), { parameters: 'a cat\nSteps: 20' });
  assert.ok(withLatin.includes(Buffer.from('tEXt')));
  const withUnicode = addPngText(png, 'parameters', 'ein Hündchen 🐶 猫');
  assert.equal(readPngText(withUnicode).parameters, 'ein Hündchen 🐶 猫');
  assert.ok(withUnicode.includes(Buffer.from('iTXt')));
  assert.equal((await sharp(withUnicode).metadata()).width, 4);
  assert.throws(() => readPngText(Buffer.from('not a png')), /not a PNG/);
});

test('infotext is written the A1111 way and parses back', () => {
  const p = {
    kind: 'img2img',
    model: 'tiny',
    prompt: 'a cat, on a hill',
    negative_prompt: 'blurry, dark',
    sampler: 'DPM++ 2M',
    scheduler: 'Karras',
    steps: 20,
    cfg_scale: 7.5,
    width: 512,
    height: 768,
    seed: 1,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.6,
    resize_mode: 0,
    loras: [{ name: 'style', weight: 0.8 }],
    controlnet: [],
  } as GenerationParams;
  const text = buildInfotext(p, 1234);
  assert.equal(text.split('\n')[0], 'a cat, on a hill');
  assert.equal(text.split('\n')[1], 'Negative prompt: blurry, dark');
  assert.match(
    text.split('\n')[2],
    /^Steps: 20, Sampler: DPM\+\+ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 1234, Size: 512x768, Model: tiny, Denoising strength: 0.6/,
  );
  const parsed = parseInfotext(text);
  assert.equal(parsed.prompt, 'a cat, on a hill');
  assert.equal(parsed.negative_prompt, 'blurry, dark');
  assert.equal(parsed.Seed, '1234');
  assert.equal(parsed['CFG scale'], '7.5');
  assert.equal(parsed['Lora weights'], 'style: 0.8');
  assert.ok(!buildInfotext({ ...p, negative_prompt: '' }, 1).includes('Negative prompt'));
});
