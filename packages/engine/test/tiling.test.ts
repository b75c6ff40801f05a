// Tiling: every symmetrically padded Conv pads circularly after the rewrite. Checked three independent ways: a
// one-Conv graph against a circular convolution written out here; the rewritten UNet and VAE decoder of the tiny
// model commute with a circular shift (a shifted input gives the shifted output, which zero padding breaks); and a
// tiled 64x64 image whose edges continue each other (its wrap-around seam is as smooth as its interior).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import type { GenerationParams } from '@farm/core';
import { ensureTinyModel } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';
import { onnx } from '../src/onnx/onnx-proto';
import { makeConvsCircular, tiledModelSource } from '../src/onnx/tiling';

const { modelsDir } = await ensureTinyModel();

/** A graph of two Convs on x [1, 1, H, W]: a 3x3 with pads 1 (symmetric) and a 2x2 with pads [0, 0, 1, 1] (not). */
function twoConvs(k3: number[], k2: number[]): onnx.ModelProto {
  const f32 = onnx.TensorProto.DataType.FLOAT;
  const dims = (d: (number | string)[]) => ({ dim: d.map((v) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v })) });
  const io = (name: string) => ({ name, type: { tensorType: { elemType: f32, shape: dims([1, 1, 'h', 'w']) } } });
  const weight = (name: string, k: number[], n: number) => ({ name, dataType: f32, dims: [1, 1, n, n], floatData: k });
  const ints = onnx.AttributeProto.AttributeType.INTS;
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      input: [io('x')],
      output: [io('a'), io('b')],
      initializer: [weight('k3', k3, 3), weight('k2', k2, 2)],
      node: [
        {
          opType: 'Conv',
          name: 'c3',
          input: ['x', 'k3'],
          output: ['a'],
          attribute: [
            { name: 'pads', type: ints, ints: [1, 1, 1, 1] },
            { name: 'kernel_shape', type: ints, ints: [3, 3] },
          ],
        },
        {
          opType: 'Conv',
          name: 'c2',
          input: ['x', 'k2'],
          output: ['b'],
          attribute: [
            { name: 'pads', type: ints, ints: [0, 0, 1, 1] },
            { name: 'kernel_shape', type: ints, ints: [2, 2] },
          ],
        },
      ],
    },
  });
}

test('a Conv with pads 1 convolves circularly after the rewrite; asymmetric pads stay zeros', async () => {
  const k3 = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const k2 = [1, 10, 100, 1000];
  const model = twoConvs(k3, k2);
  assert.equal(makeConvsCircular(model), 1);
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  const [H, W] = [4, 5];
  const x = Float32Array.from({ length: H * W }, (_, i) => i + 1);
  const out = await session.run({ x: new ort.Tensor('float32', x, [1, 1, H, W]) });
  const mod = (a: number, n: number) => ((a % n) + n) % n;
  for (let y = 0; y < H; y++)
    for (let xx = 0; xx < W; xx++) {
      let circular = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) circular += k3[(dy + 1) * 3 + dx + 1] * x[mod(y + dy, H) * W + mod(xx + dx, W)];
      assert.equal((out.a.data as Float32Array)[y * W + xx], circular, `a[${y}][${xx}]`);
      let zero = 0;
      for (let dy = 0; dy <= 1; dy++) for (let dx = 0; dx <= 1; dx++) zero += y + dy < H && xx + dx < W ? k2[dy * 2 + dx] * x[(y + dy) * W + xx + dx] : 0;
      assert.equal((out.b.data as Float32Array)[y * W + xx], zero, `b[${y}][${xx}]`);
    }
});

/** [C, H, W] rolled by (dy, dx) with wrap-around. */
function roll(t: Float32Array, c: number, h: number, w: number, dy: number, dx: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let k = 0; k < c; k++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(k * h + ((y + dy) % h)) * w + ((x + dx) % w)] = t[(k * h + y) * w + x];
  return out;
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('the rewritten UNet and VAE decoder commute with a circular shift; the originals do not', async () => {
  const noise = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 1.3);
  const [h, w] = [8, 8];
  const latent = noise(4 * h * w, 1);
  const shifted = roll(latent, 4, h, w, 2, 4); // even shifts: the UNet downsamples once by 2
  const check = async (net: string, feeds: (x: Float32Array) => Record<string, ort.Tensor>, outDims: [number, number, number], scale: number) => {
    for (const tiled of [true, false]) {
      const file = join(modelsDir, 'tiny', net, 'model.onnx');
      const session = tiled ? await ort.InferenceSession.create(tiledModelSource(file) as Uint8Array) : await ort.InferenceSession.create(file);
      const a = (await session.run(feeds(latent)))[session.outputNames[0]].data as Float32Array;
      const b = (await session.run(feeds(shifted)))[session.outputNames[0]].data as Float32Array;
      const err = maxDiff(roll(a, ...outDims, 2 * scale, 4 * scale), b) / maxAbs(a);
      if (tiled) assert.ok(err < 1e-4, `${net} tiled: shift changes the output by ${err}`);
      else assert.ok(err > 1e-2, `${net} untiled: zero padding should break the symmetry (${err})`);
      await session.release();
    }
  };
  const states = noise(77 * 32, 2);
  await check(
    'unet',
    (x) => ({
      sample: new ort.Tensor('float32', x, [1, 4, h, w]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
      encoder_hidden_states: new ort.Tensor('float32', states, [1, 77, 32]),
    }),
    [4, h, w],
    1,
  );
  await check('vae_decoder', (x) => ({ latent_sample: new ort.Tensor('float32', x, [1, 4, h, w]) }), [3, h * 8, w * 8], 8);
});

const params = (over: Partial<GenerationParams> = {}): GenerationParams => ({
  kind: 'txt2img',
  model: 'tiny',
  prompt: 'a brick wall texture',
  negative_prompt: '',
  sampler: 'Euler a',
  scheduler: 'Automatic',
  steps: 3,
  cfg_scale: 7,
  width: 64,
  height: 64,
  seed: 11,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [],
  controlnet: [],
  ...over,
});

/**
 * How the wrap-around neighbours of an image relate, against its interior neighbours: the Pearson correlation (along
 * the edge, per channel) of its last column with its first, and of its last row with its first, next to the mean
 * correlation of adjacent interior columns and rows. An image that wraps continues across its seam as it does inside
 * (seam about interior); one that does not has unrelated content on either side (seam about 0). Differences would
 * not tell: zero padding leaves similar border shading on both edges of an untiled image.
 */
async function seams(png: Buffer): Promise<{ seamX: number; seamY: number; innerX: number; innerY: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const [W, H, C] = [info.width, info.height, info.channels];
  const col = (x: number, c: number) => Array.from({ length: H }, (_, y) => data[(y * W + x) * C + c]);
  const row = (y: number, c: number) => Array.from({ length: W }, (_, x) => data[(y * W + x) * C + c]);
  const corr = (a: number[], b: number[]) => {
    const ma = a.reduce((s, v) => s + v, 0) / a.length;
    const mb = b.reduce((s, v) => s + v, 0) / b.length;
    let ab = 0;
    let aa = 0;
    let bb = 0;
    a.forEach((v, i) => {
      ab += (v - ma) * (b[i] - mb);
      aa += (v - ma) ** 2;
      bb += (b[i] - mb) ** 2;
    });
    return ab / Math.sqrt(aa * bb);
  };
  const rgb = (f: (c: number) => number) => (f(0) + f(1) + f(2)) / 3;
  const mean = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i)).reduce((s, v) => s + v, 0) / n;
  return {
    seamX: rgb((c) => corr(col(W - 1, c), col(0, c))),
    seamY: rgb((c) => corr(row(H - 1, c), row(0, c))),
    innerX: mean(W - 1, (x) => rgb((c) => corr(col(x, c), col(x + 1, c)))),
    innerY: mean(H - 1, (y) => rgb((c) => corr(row(y, c), row(y + 1, c)))),
  };
}

test('a tiled 64x64 image wraps: left and right columns, top and bottom rows continue each other, unlike untiled; infotext says Tiling', async () => {
  const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
  for (const seed of [1, 2]) {
    const [tiled] = await engine.generate([{ id: 't', params: params({ seed, tiling: true }) }]);
    const [plain] = await engine.generate([{ id: 'p', params: params({ seed }) }]);
    const t = await seams(tiled.images[0]);
    const p = await seams(plain.images[0]);
    const show = JSON.stringify({ t, p });
    assert.ok(t.innerX > 0.5 && t.innerY > 0.5, `neighbours inside the image are related, so the seam test means something: ${show}`);
    assert.ok(t.seamX > 0.75 * t.innerX && t.seamY > 0.75 * t.innerY, `tiled: the seams relate like interior neighbours: ${show}`);
    assert.ok(p.seamX < 0.3 && p.seamY < 0.3, `untiled: the edges are unrelated: ${show}`);
    assert.equal(parseInfotext(readPngText(tiled.images[0]).parameters).Tiling, 'True');
    assert.ok(!('Tiling' in parseInfotext(readPngText(plain.images[0]).parameters)));
  }
  await engine.close();
});
