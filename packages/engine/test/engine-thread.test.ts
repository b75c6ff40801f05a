import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { ValidationError, UnknownModelError, type GenerationParams } from '@farm/core';
import { ensureTinyModel, txt2imgParams } from '@farm/testkit';
import { Engine, EngineThread } from '../src/index';

const { modelsDir } = await ensureTinyModel();
const opts = { modelsDir, maxPixels: 256 * 256, maxSteps: 50 };
const local = new Engine(opts);
const threaded = new EngineThread(opts);
afterAll(async () => {
  await threaded.close();
  await local.close();
});

const base: GenerationParams = txt2imgParams({ negative_prompt: 'fog', sampler: 'Euler a', steps: 4, seed: 21, batch_size: 2 });

test('the engine thread gives the same PNG bytes, seeds and infotexts as the engine in-process, and reports every step', async () => {
  const items = [
    { id: 'a', params: base },
    { id: 'b', params: { ...base, prompt: 'a boat', seed: 3, batch_size: 1 } },
  ];
  const steps: number[] = [];
  const latents: string[] = [];
  const there = await threaded.generate(items, {
    onStep: (s) => steps.push(s),
    onLatent: (id, x) => {
      assert.ok(x instanceof Float32Array);
      latents.push(id);
    },
  });
  const here = await local.generate(items);
  assert.deepEqual(steps, [1, 2, 3, 4]);
  assert.deepEqual(latents, ['a', 'a', 'b']);
  assert.equal(there.length, 2);
  for (const [i, r] of there.entries()) {
    assert.deepEqual(r.seeds, here[i].seeds);
    assert.deepEqual(r.infotexts, here[i].infotexts);
    assert.equal(r.images.length, here[i].images.length);
    r.images.forEach((png, k) => {
      assert.ok(Buffer.isBuffer(png));
      assert.ok(png.equals(here[i].images[k]), `item ${i} image ${k}`);
    });
  }
});

test('a cancel asked on the main thread stops that item between steps; the others finish', async () => {
  const r = await threaded.generate(
    [
      { id: 'keep', params: base },
      { id: 'drop', params: { ...base, seed: 9 } },
    ],
    {
      isCanceled: (id) => id === 'drop',
    },
  );
  assert.equal(r[0].canceled, false);
  assert.equal(r[0].images.length, 2);
  assert.equal(r[1].canceled, true);
  assert.equal(r[1].images.length, 0);
});

test('a cancel the main thread learns of while the batch runs reaches the thread within a few steps', async () => {
  let stepsSeen = 0;
  const r = await threaded.generate(
    [
      { id: 'keep', params: { ...base, steps: 12 } },
      { id: 'drop', params: { ...base, steps: 12, seed: 9 } },
    ],
    {
      onStep: () => {
        stepsSeen++;
      },
      // nothing is canceled when the batch starts; after the first step the main thread says 'drop' is
      isCanceled: (id) => id === 'drop' && stepsSeen >= 1,
    },
  );
  assert.equal(r[0].canceled, false);
  assert.equal(r[1].canceled, true, 'the answer written after the first step reached the thread');
  assert.equal(r[1].images.length, 0);
});

test('errors raised in the thread keep their class, status and field', async () => {
  await assert.rejects(
    threaded.generate([{ id: 'x', params: { ...base, kind: 'img2img', init_image: Buffer.from('not an image').toString('base64') } }]),
    (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.equal(e.field, 'init_image');
      assert.equal(e.status, 422);
      return true;
    },
  );
  // the thread is still serving after an error
  assert.equal((await threaded.generate([{ id: 'ok', params: { ...base, batch_size: 1 } }]))[0].images.length, 1);
});

test('unloadModels and loadModel run in the thread; an unknown model keeps its error class', async () => {
  await threaded.unloadModels();
  await threaded.loadModel('tiny');
  await assert.rejects(threaded.loadModel('nope'), (e: unknown) => e instanceof UnknownModelError);
  const [r] = await threaded.generate([{ id: 'again', params: { ...base, batch_size: 1 } }]);
  const [alone] = await local.generate([{ id: 'again', params: { ...base, batch_size: 1 } }]);
  assert.ok(r.images[0].equals(alone.images[0]));
});
