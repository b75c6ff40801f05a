// The A1111 layer's pure parts: styles.csv, A1111's grid layout, EXIF UserComment in JPEG and WebP, infotext parsing.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { applyStyle, gridLayout } from '@farm/core';
import { parseGenerationParameters } from '@farm/engine/png';
import { parseStyles } from '../src/a1111/styles';
import { applyInfotext } from '../src/a1111/apply-infotext';
import { jpegWithExif, readUserComment, userCommentTiff, webpWithExif } from '../src/a1111/exif';

test('styles.csv: quoted fields with commas, newlines and doubled quotes; {prompt} wraps, other styles append', () => {
  const styles = parseStyles(
    'name,prompt,negative_prompt\r\n"cine","cinematic still of {prompt}, ""film"" grain","blurry, ugly"\nplain,masterpiece,\n,ignored,\n',
  );
  assert.deepEqual(styles, [
    { name: 'cine', prompt: 'cinematic still of {prompt}, "film" grain', negative_prompt: 'blurry, ugly' },
    { name: 'plain', prompt: 'masterpiece', negative_prompt: '' },
  ]);
  assert.equal(applyStyle(styles[0].prompt, 'a cat'), 'cinematic still of a cat, "film" grain');
  assert.equal(applyStyle(styles[1].prompt, ' a cat '), 'a cat, masterpiece');
  assert.equal(applyStyle('', 'a cat'), 'a cat');
  assert.equal(applyStyle(styles[1].negative_prompt, ''), '');
});

test("A1111's image_grid layout", () => {
  const auto = { n_rows: -1, grid_prevent_empty_spots: false };
  assert.deepEqual(gridLayout(4, 4, auto), { rows: 2, cols: 2 });
  assert.deepEqual(gridLayout(3, 3, auto), { rows: 2, cols: 2 }, 'round(sqrt(3)) = 2 rows');
  assert.deepEqual(gridLayout(6, 3, { n_rows: 0, grid_prevent_empty_spots: false }), { rows: 3, cols: 2 }, 'n_rows 0: the batch size');
  assert.deepEqual(gridLayout(6, 1, { n_rows: -1, grid_prevent_empty_spots: true }), { rows: 2, cols: 3 });
  assert.deepEqual(gridLayout(2, 2, { n_rows: 5, grid_prevent_empty_spots: false }), { rows: 2, cols: 1 }, 'never more rows than images');
});

test("EXIF UserComment: piexif's layout (UNICODE + UTF-16BE) spliced into JPEG and WebP, read back via sharp", async () => {
  const text = 'a cat, (best:1.2) ☕\nNegative prompt: dog\nSteps: 4, Seed: 1';
  const tiff = userCommentTiff(text);
  assert.equal(tiff.toString('latin1', 0, 4), 'MM\0*');
  assert.ok(tiff.includes(Buffer.from('UNICODE\0', 'latin1')));
  assert.equal(readUserComment(tiff), text);
  const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();
  const jpeg = jpegWithExif(await sharp(png).jpeg().toBuffer(), tiff);
  const webp = webpWithExif(await sharp(png).webp().toBuffer(), tiff, 8, 6);
  for (const [format, bytes] of [
    ['jpeg', jpeg],
    ['webp', webp],
  ] as const) {
    const meta = await sharp(bytes).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], [format, 8, 6]);
    assert.equal(readUserComment(meta.exif!), text, format);
  }
});

test("parse_generation_parameters: A1111's keys, WxH split, quoted values, the defaults it fills in", () => {
  const p = parseGenerationParameters(
    'a (cat:1.2)\nin a hat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 5, Size: 512x768, Model hash: 6ce0161689, Lora hashes: "x: 1, y: 2", Version: v1.10.1',
  );
  assert.equal(p.Prompt, 'a (cat:1.2)\nin a hat');
  assert.equal(p['Negative prompt'], 'dog');
  assert.deepEqual([p['Size-1'], p['Size-2'], p.Size], ['512', '768', undefined]);
  assert.equal(p['Lora hashes'], 'x: 1, y: 2');
  assert.deepEqual([p['Clip skip'], p.RNG, p['Schedule type'], p.Emphasis, p['Hires resize-1']], ['1', 'GPU', 'Automatic', 'Original', 0]);
  const bare = parseGenerationParameters('just a prompt');
  assert.equal(bare.Prompt, 'just a prompt');
  assert.equal(bare.Emphasis, undefined);
  assert.equal(parseGenerationParameters('').Prompt, '');
});

test('the infotext field fills what the body leaves unset; options it names go to override_settings unless already current', () => {
  const infotext =
    'a cat\nNegative prompt: dog\nSteps: 12, Sampler: Euler a, CFG scale: 6.5, Seed: 7, Size: 96x64, Clip skip: 2, ENSD: 31337, Model hash: abc, Version: v1.10.1';
  const body = applyInfotext('txt2img', { infotext, steps: 30, override_settings: { eta_noise_seed_delta: 0 } }, { CLIP_stop_at_last_layers: 1 });
  assert.deepEqual(
    [body.prompt, body.negative_prompt, body.steps, body.sampler_name, body.cfg_scale, body.seed, body.width, body.height],
    ['a cat', 'dog', 30, 'Euler a', '6.5', '7', '96', '64'],
  );
  assert.deepEqual(body.override_settings, { eta_noise_seed_delta: 0, CLIP_stop_at_last_layers: 2 }, 'ENSD set in the body wins; RNG GPU is the current value');
  assert.equal('sd_model_checkpoint' in (body.override_settings as object), false, 'no model switch (disable_weights_auto_swap)');
  const hires = applyInfotext(
    'txt2img',
    { infotext: 'x\nSteps: 4, Seed: 1, Size: 64x64, Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: Latent' },
    {},
  );
  assert.deepEqual([hires.enable_hr, hires.hr_scale, hires.hr_upscaler, hires.denoising_strength], [true, '2', 'Latent', '0.5']);
  assert.deepEqual(applyInfotext('img2img', { prompt: 'p' }, {}), { prompt: 'p' });
});
