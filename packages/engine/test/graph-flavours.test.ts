// The `gpu` graph flavour from the same weights: fused attention (com.microsoft.MultiHeadAttention, which has a CPU
// kernel in fp32) must compute what the portable graph computes, network by network; the engine runs both flavours.
// Its float16 numerics need a GPU (bench/results, README). Float16 IO goes through the one converter.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { fromFloat16Array, toFloat16Array, type GenerationParams } from '@farm/core';
import { generateModel } from '@farm/modelgen';
import { onnx } from '../src/onnx/onnx-proto';
import { Engine } from '../src/index';
import { withFloat32Io } from '../src/onnx/float16-io';

const dir = mkdtempSync(join(tmpdir(), 'flavours-'));
await generateModel({ preset: 'tiny', outDir: join(dir, 'tiny'), seed: 3, flavours: ['portable', 'gpu'], gpuPrecision: 'fp32' });
const model = join(dir, 'tiny');

// deterministic pseudo-random inputs, independent of the code under test
const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + phase) * 0.8);
const relErr = (a: Float32Array, b: Float32Array) => {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += a[i] ** 2;
  }
  return Math.sqrt(num / den);
};
const feeds: Record<string, Record<string, ort.Tensor>> = {
  unet: {
    sample: new ort.Tensor('float32', wave(2 * 4 * 8 * 8, 1), [2, 4, 8, 8]),
    timestep: new ort.Tensor('float32', Float32Array.of(999, 1), [2]),
    encoder_hidden_states: new ort.Tensor('float32', wave(2 * 77 * 32, 2), [2, 77, 32]),
  },
  text_encoder: {
    input_ids: new ort.Tensor(
      'int32',
      Int32Array.from({ length: 2 * 77 }, (_, i) => (i * 37) % 1000),
      [2, 77],
    ),
  },
  vae_decoder: { latent_sample: new ort.Tensor('float32', wave(4 * 8 * 8, 3), [1, 4, 8, 8]) },
  vae_encoder: { sample: new ort.Tensor('float32', wave(3 * 64 * 64, 4), [1, 3, 64, 64]) },
  controlnet: {
    sample: new ort.Tensor('float32', wave(2 * 4 * 8 * 8, 5), [2, 4, 8, 8]),
    timestep: new ort.Tensor('float32', Float32Array.of(500, 500), [2]),
    encoder_hidden_states: new ort.Tensor('float32', wave(2 * 77 * 32, 6), [2, 77, 32]),
    controlnet_cond: new ort.Tensor('float32', wave(2 * 3 * 64 * 64, 7).map(Math.abs), [2, 3, 64, 64]),
    conditioning_scale: new ort.Tensor('float32', Float32Array.of(1), []),
  },
};

test('the gpu-structured graph (fused attention, fp32) matches the portable graph for every network', async () => {
  for (const [net, inputs] of Object.entries(feeds)) {
    const gpuFile = join(model, net, 'model.gpu.onnx');
    const nodes = onnx.ModelProto.decode(readFileSync(gpuFile)).graph!.node!;
    if (net !== 'vae_encoder' || nodes.some((n) => n.opType === 'MultiHeadAttention')) {
      assert.ok(
        nodes.some((n) => n.opType === 'MultiHeadAttention' && n.domain === 'com.microsoft'),
        `${net} uses fused attention`,
      );
      assert.ok(!nodes.some((n) => n.opType === 'Softmax'), `${net} has no unfused attention left`);
    }
    const portable = await ort.InferenceSession.create(join(model, net, 'model.onnx'));
    const gpu = await ort.InferenceSession.create(gpuFile);
    const [a, b] = [await portable.run(inputs), await gpu.run(inputs)];
    for (const name of portable.outputNames) {
      const err = relErr(a[name].data as Float32Array, b[name].data as Float32Array);
      assert.ok(err < 1e-5, `${net} ${name}: relative error ${err}`);
    }
    await portable.release();
    await gpu.release();
  }
});

test('the engine runs both flavours: the gpu files (fp32 here) render what the portable ones render', async () => {
  const params: GenerationParams = {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a red barn',
    negative_prompt: 'fog',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 4,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 8,
    batch_size: 2,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
  };
  const render = async (graphFlavour: 'portable' | 'gpu') => {
    const engine = new Engine({ modelsDir: dir, maxPixels: 1 << 16, maxSteps: 10, graphFlavour });
    assert.equal(engine.cache.flavour, graphFlavour);
    const [r] = await engine.generate([{ id: 'x', params }]);
    const loaded = engine.cache.list().map((e) => e.key);
    await engine.close();
    return { pixels: await Promise.all(r.images.map((png) => sharp(png).raw().toBuffer())), loaded };
  };
  const portable = await render('portable');
  const gpu = await render('gpu');
  assert.ok(
    gpu.loaded.every((k) => k.endsWith('|gpu')),
    `gpu sessions: ${gpu.loaded}`,
  );
  assert.ok(portable.loaded.every((k) => !k.endsWith('|gpu')));
  portable.pixels.forEach((px, i) =>
    assert.ok(
      px.every((v, k) => Math.abs(v - gpu.pixels[i][k]) <= 1),
      `image ${i}`,
    ),
  );
});

test('float16 inputs and outputs are converted at the session edge with the one converter', async () => {
  // Y = 2 * float(X) as float16 in and out: a graph whose IO is float16
  const { DataType } = onnx.TensorProto;
  const info = (name: string) => ({ name, type: { tensorType: { elemType: DataType.FLOAT16, shape: { dim: [{ dimValue: 5 }] } } } });
  const bytes = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'half',
        input: [info('X')],
        output: [info('Y')],
        initializer: [{ name: 'two', dims: [], dataType: DataType.FLOAT, floatData: [2] }],
        node: [
          { opType: 'Cast', input: ['X'], output: ['x32'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }] },
          { opType: 'Mul', input: ['x32', 'two'], output: ['y32'] },
          { opType: 'Cast', input: ['y32'], output: ['Y'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT16 }] },
        ],
      },
    }),
  ).finish();
  const session = withFloat32Io(await ort.InferenceSession.create(bytes));
  const x = Float32Array.of(1, -0.5, 1 / 3, 1000, 65504 / 4);
  const y = (await session.run({ X: new ort.Tensor('float32', x, [5]) })).Y;
  assert.equal(y.type, 'float32');
  // expected: x rounded to half, doubled (exact in binary), read back: independent of the converter's own code path
  const expected = [2, -1, 2 * 0.333251953125, 2000, 65504 / 2];
  assert.deepEqual([...(y.data as Float32Array)], expected);
  assert.deepEqual([...fromFloat16Array(toFloat16Array(Float32Array.of(1 / 3)))], [0.333251953125]);
});
