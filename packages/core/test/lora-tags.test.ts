// The one parser of A1111's <lora:name:weight> prompt tags.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { extractLoraTags, mergeLoraRefs, parseJobRequest, UnknownLoraError, type Catalog } from '../src/index';

test('tags are parsed, weights default to 1 and add up per name, tags leave the prompt', () => {
  assert.deepEqual(extractLoraTags('a <lora:x:0.5> b <LoRA:y> c <lora:x:0.25:0.7>'), {
    prompt: 'a b c',
    loras: [
      { name: 'x', weight: 0.75 },
      { name: 'y', weight: 1 },
    ],
  });
  assert.deepEqual(extractLoraTags('no tags, <lora:unclosed:1'), { prompt: 'no tags, <lora:unclosed:1', loras: [] });
  assert.deepEqual(extractLoraTags('<lora: spaced :2>'), { prompt: '', loras: [{ name: 'spaced', weight: 2 }] });
});

test('listed and tagged LoRAs merge by name, sorted', () => {
  assert.deepEqual(
    mergeLoraRefs(
      [{ name: 'b', weight: 1 }],
      [
        { name: 'a', weight: 0.5 },
        { name: 'b', weight: 0.5 },
      ],
    ),
    [
      { name: 'a', weight: 0.5 },
      { name: 'b', weight: 1.5 },
    ],
  );
});

test('a request naming an unknown LoRA in a tag is refused with the installed ones', () => {
  const catalog: Catalog = { models: ['tiny'], loras: ['style'], checkSampler: () => {} };
  const limits = { maxPixels: 1 << 20, maxSteps: 150, maxImagesPerRequest: 16 };
  assert.throws(
    () => parseJobRequest({ prompt: 'a <lora:nope:1>' }, limits, catalog),
    (e) => e instanceof UnknownLoraError && /style/.test(e.message),
  );
  assert.equal(parseJobRequest({ prompt: 'a <lora:style:1>' }, limits, catalog).params.prompt, 'a <lora:style:1>');
});
