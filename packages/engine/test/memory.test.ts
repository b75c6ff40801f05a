// Memory: attention in query slices computes what onnxruntime's own attention kernel computes, however many slices;
// the model's memory profile is read from its graphs; the engine splits batches to its budget without changing an
// image, refuses what does not fit, and caps prompt chunks before the text encoder runs.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ATTENTION_SLICE_INITIALIZER, NotRunnableHereError, ValidationError, estimatePeakBytes, type GenerationParams } from '@farm/core';
import { generateModel } from '@farm/modelgen';
import { onnx } from '../src/onnx/onnx-proto';
import { Engine } from '../src/index';
import { readMemoryProfile } from '../src/models/memory-profile';
import { txt2imgParams } from '@farm/testkit';

const dir = mkdtempSync(join(tmpdir(), 'memory-'));
await generateModel({ preset: 'tiny', outDir: join(dir, 'tiny'), seed: 5, flavours: ['portable', 'gpu'], gpuPrecision: 'fp32', controlnet: false });
const model = join(dir, 'tiny');

/** The portable graph with its slice size set to `elements` (so a small image runs in many slices). */
function withSlice(file: string, elements: number): Uint8Array {
  const m = onnx.ModelProto.decode(readFileSync(file));
  const init = m.graph!.initializer!.find((i) => i.name === ATTENTION_SLICE_INITIALIZER)!;
  init.rawData = new Uint8Array(BigInt64Array.of(BigInt(elements)).buffer);
  return onnx.ModelProto.encode(m).finish();
}

const wave = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f));

async function outputs(source: string | Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = typeof source === 'string' ? await ort.InferenceSession.create(source) : await ort.InferenceSession.create(source);
  const out = await s.run(feeds);
  await s.release();
  return out[s.outputNames[0]].data as Float32Array;
}

function assertClose(actual: Float32Array, expected: Float32Array) {
  assert.equal(actual.length, expected.length);
  let max = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    max = Math.max(max, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert.ok(max <= 1e-4 * scale, `max difference ${max} at scale ${scale}`);
}

test('attention in uneven query slices gives what the fused attention kernel gives (UNet and VAE)', async () => {
  // 72x80 image: a 9x10 latent, 90 tokens; batch 2 x 2 heads x 90 keys = 360 elements a row, so 1000 elements are
  // slices of 2 rows (45 slices); cross-attention over 77 keys: 3 rows a slice, the last one shorter
  const [h, w] = [9, 10];
  const unetFeeds = {
    sample: new ort.Tensor('float32', wave(2 * 4 * h * w, 0.37), [2, 4, h, w]),
    timestep: new ort.Tensor('float32', Float32Array.of(500, 500), [2]),
    encoder_hidden_states: new ort.Tensor('float32', wave(2 * 77 * 32, 0.11), [2, 77, 32]),
  };
  const fused = await outputs(join(model, 'unet/model.gpu.onnx'), unetFeeds);
  assertClose(await outputs(withSlice(join(model, 'unet/model.onnx'), 1000), unetFeeds), fused);
  assertClose(await outputs(join(model, 'unet/model.onnx'), unetFeeds), fused);
  const vaeFeeds = { latent_sample: new ort.Tensor('float32', wave(4 * h * w, 0.23), [1, 4, h, w]) };
  assertClose(
    await outputs(withSlice(join(model, 'vae_decoder/model.onnx'), 700), vaeFeeds),
    await outputs(join(model, 'vae_decoder/model.gpu.onnx'), vaeFeeds),
  );
});

test("the memory profile is read from the graphs (the tiny preset's shapes)", () => {
  const p = readMemoryProfile(model);
  assert.equal(p.unetChannels, 32);
  assert.equal(p.unetHeads, 2);
  assert.equal(p.vaeChannels, 16);
  assert.equal(p.attentionSlice, 1 << 24);
  assert.ok(p.weightsBytes > 1e6 && p.weightsBytes < 1e8, `${p.weightsBytes}`);
});

const base: GenerationParams = txt2imgParams({ prompt: 'a red boat', negative_prompt: 'fog', sampler: 'Euler a', seed: 9, batch_size: 3 });
const profile = readMemoryProfile(model);
const oneImage = estimatePeakBytes(profile, { width: 64, height: 64, images: 1, rowsPerImage: 2, chunks: 1, vaeImages: 1 });

test('a batch split to fit the budget gives the same images as the whole batch', async () => {
  const whole = new Engine({ modelsDir: dir, maxPixels: 1 << 20, maxSteps: 50, graphFlavour: 'portable' });
  const split = new Engine({ modelsDir: dir, maxPixels: 1 << 20, maxSteps: 50, graphFlavour: 'portable', memoryBudget: oneImage });
  try {
    const [a] = await whole.generate([{ id: 'a', params: base }]);
    const [b] = await split.generate([{ id: 'b', params: base }]);
    assert.equal(b.images.length, 3);
    assert.deepEqual(b.images, a.images);
    await assert.rejects(
      new Engine({ modelsDir: dir, maxPixels: 1 << 20, maxSteps: 50, memoryBudget: oneImage - 1 }).generate([{ id: 'c', params: base }]),
      (e: unknown) => e instanceof NotRunnableHereError && /64x64/.test(e.message) && /WORKER_MEMORY_BYTES/.test(e.message),
    );
  } finally {
    await whole.close();
    await split.close();
  }
});

test('a prompt over MAX_PROMPT_CHUNKS is refused naming the field, before the text encoder runs', async () => {
  const engine = new Engine({ modelsDir: dir, maxPixels: 1 << 20, maxSteps: 50, maxPromptChunks: 2 });
  try {
    await assert.rejects(
      engine.generate([{ id: 'p', params: { ...base, prompt: 'a BREAK b BREAK c' } }]),
      (e: unknown) => e instanceof ValidationError && e.field === 'prompt',
    );
    await assert.rejects(
      engine.generate([{ id: 'n', params: { ...base, negative_prompt: 'x BREAK '.repeat(5_000) } }]),
      (e: unknown) => e instanceof ValidationError && e.field === 'negative_prompt' && /MAX_PROMPT_CHUNKS/.test(e.message),
    );
    const [ok] = await engine.generate([{ id: 'ok', params: { ...base, batch_size: 1, prompt: 'a BREAK b' } }]);
    assert.equal(ok.images.length, 1);
  } finally {
    await engine.close();
  }
});
