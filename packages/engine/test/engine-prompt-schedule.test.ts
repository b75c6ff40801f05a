// Prompt editing, alternation and AND end to end on the tiny model, and the per-call conditioning choice.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { ensureTinyModel, txt2imgParams } from '@farm/testkit';
import { Engine } from '../src/index';
import { conditioningAt, type RowConditioning } from '../src/pipeline/conditioning';
import { promptSchedule } from '../src/tokenizer';

const { modelsDir } = await ensureTinyModel();
const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
const base: GenerationParams = txt2imgParams({ negative_prompt: 'fog', steps: 6 });
const pixels = async (over: Partial<GenerationParams>) =>
  sharp((await engine.generate([{ id: 'j', params: { ...base, ...over } }]))[0].images[0])
    .raw()
    .toBuffer();
const maxDiff = (a: Buffer, b: Buffer) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('conditioning is chosen per model call from the schedule (A1111: first entry with call <= end_at_step)', () => {
  const states = (v: number) => ({ data: Float32Array.of(v), sequence: 1, channels: 1 });
  const withStates = (p: string) => promptSchedule(p, 6).map((e, i) => ({ ...e, states: states(i) }));
  const c: RowConditioning = {
    parts: [
      { weight: 1, schedule: withStates('[a:b:2]') },
      { weight: 0.5, schedule: withStates('[x|y]') },
    ],
    uncond: withStates('n'),
    sequence: 1,
    embeddings: [],
  };
  const texts = [0, 1, 2, 3, 4, 5].map((call) =>
    conditioningAt(c, call)
      .conds.map((x) => x.states.data[0])
      .join(''),
  );
  // [a:b:2] -> a for calls 0..2, b after; [x|y] -> x for calls 0 and 1, then y, x, y, x
  assert.deepEqual(texts, ['00', '00', '01', '12', '13', '14']);
  assert.equal(conditioningAt(c, 0).conds[1].weight, 0.5);
});

test('[a:b:N] with N past the last step gives the same pixels as a; switching halfway gives another image', async () => {
  const a = await pixels({ prompt: 'a lighthouse' });
  assert.ok((await pixels({ prompt: '[a lighthouse:a red castle:20]' })).equals(a));
  // A1111 counts model calls from 0: with 6 steps, [a:b:5] never reaches b; [a:b:4] uses b for the last call only
  assert.ok((await pixels({ prompt: '[a lighthouse:a red castle:5]' })).equals(a));
  assert.ok(!(await pixels({ prompt: '[a lighthouse:a red castle:4]' })).equals(a));
  const halfway = await pixels({ prompt: '[a lighthouse:a red castle:0.5]' });
  assert.ok(!halfway.equals(a));
  assert.ok(!halfway.equals(await pixels({ prompt: 'a red castle' })));
  assert.ok((await pixels({ negative_prompt: '[fog:rain:30]' })).equals(a), 'the negative prompt is scheduled too');
});

test('AND: one part of weight 1 is the plain prompt; a :2 part at cfg 3.5 is cfg 7; two halves of one prompt are that prompt', async () => {
  const a = await pixels({});
  assert.ok((await pixels({ prompt: 'a lighthouse :1' })).equals(a));
  assert.ok(maxDiff(await pixels({ prompt: 'a lighthouse :2', cfg_scale: 3.5 }), a) <= 1);
  assert.ok(maxDiff(await pixels({ prompt: 'a lighthouse :0.5 AND a lighthouse :0.5' }), a) <= 1);
  assert.ok(!(await pixels({ prompt: 'a lighthouse AND a red castle' })).equals(a));
});

test('items with schedules, alternation and AND batch with plain items and equal their runs alone', async () => {
  const variants: Partial<GenerationParams>[] = [
    { prompt: 'a [lighthouse:castle:3] at night', seed: 1 },
    { prompt: 'a lighthouse', seed: 2, cfg_scale: 1 },
    { prompt: '[red|blue] boat AND sea :0.7', seed: 3, batch_size: 2 },
    { prompt: '一只[猫:狗:0.5]', negative_prompt: '[a|b]', seed: 4 },
  ];
  const together = await engine.generate(variants.map((v, i) => ({ id: `i${i}`, params: { ...base, ...v } })));
  for (const [i, v] of variants.entries()) {
    const alone = await engine.generate([{ id: `i${i}`, params: { ...base, ...v } }]);
    for (const [k, img] of alone[0].images.entries()) {
      assert.ok((await sharp(img).raw().toBuffer()).equals(await sharp(together[i].images[k]).raw().toBuffer()), `item ${i} image ${k}`);
    }
  }
});
