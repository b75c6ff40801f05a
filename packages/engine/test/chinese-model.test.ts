import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { ensureTinyTaiyiModel, txt2imgParams } from '@farm/testkit';
import { Engine } from '../src/index';

const { modelsDir } = await ensureTinyTaiyiModel();
const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
const base: GenerationParams = txt2imgParams({ model: 'tiny-taiyi', prompt: '飞流直下三千尺，油画', sampler: 'Euler a', steps: 4, seed: 7 });
const gen = async (over: Partial<GenerationParams>) => (await engine.generate([{ id: 'x', params: { ...base, ...over } }]))[0].images[0];
const pixels = async (png: Buffer) => sharp(png).raw().toBuffer();

test('the Taiyi-shaped model renders a Chinese prompt through its BERT tokenizer and text encoder', async () => {
  assert.equal(engine.registry.files('tiny-taiyi').tokenizer.kind, 'bert');
  const png = await gen({});
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height], [64, 64]);
  assert.ok(png.equals(await gen({})), 'deterministic');
  assert.ok(!png.equals(await gen({ prompt: '小桥流水人家' })), 'another Chinese prompt gives another image');
  // A1111 emphasis works on Chinese text: weighting 油画 changes the image, a weight of 1 leaves the pixels as they were
  const px = await pixels(png);
  assert.ok(!px.equals(await pixels(await gen({ prompt: '飞流直下三千尺，(油画:1.5)' }))));
  assert.ok(px.equals(await pixels(await gen({ prompt: '飞流直下三千尺，(油画:1)' }))));
});

afterAll(() => engine.close());
