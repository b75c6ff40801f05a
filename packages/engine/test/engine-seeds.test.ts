// A1111's random sources end to end on the tiny model: what each option changes in the image and in the infotext.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { ensureTinyModel } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';

const { modelsDir } = await ensureTinyModel();
const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
const base: GenerationParams = {
  kind: 'txt2img',
  model: 'tiny',
  prompt: 'a lighthouse',
  negative_prompt: '',
  sampler: 'Euler a',
  scheduler: 'Automatic',
  steps: 4,
  cfg_scale: 7,
  width: 64,
  height: 64,
  seed: 42,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [],
  controlnet: [],
  randn_source: 'NV',
};
const gen = async (over: Partial<GenerationParams> = {}) => (await engine.generate([{ id: 'j', params: { ...base, ...over } }]))[0];
const png = async (over: Partial<GenerationParams> = {}) => (await gen(over)).images[0];
const raw = async (b: Buffer) => sharp(b).raw().toBuffer();

test('GPU and NV are the same Philox noise; CPU and numpy are other streams', async () => {
  const [gpu, nv, cpu, numpy] = await Promise.all([
    png({ randn_source: 'GPU' }),
    png({ randn_source: 'NV' }),
    png({ randn_source: 'CPU' }),
    png({ randn_source: 'numpy' }),
  ]);
  assert.ok((await raw(gpu)).equals(await raw(nv)), 'same pixels');
  assert.ok(!(await raw(gpu)).equals(await raw(cpu)));
  assert.ok(!(await raw(cpu)).equals(await raw(numpy)));
  assert.equal(parseInfotext(readPngText(gpu).parameters).RNG, undefined);
  assert.equal(parseInfotext(readPngText(nv).parameters).RNG, 'NV');
  assert.equal(parseInfotext(readPngText(numpy).parameters).RNG, 'numpy');
});

test('per-image generators: a batch of 2 with an ancestral sampler equals seeds 42 and 43 run alone (NV and CPU)', async () => {
  for (const randn_source of ['NV', 'CPU'] as const) {
    const batch = await gen({ randn_source, batch_size: 2 });
    assert.ok(batch.images[0].equals(await png({ randn_source })));
    assert.ok(batch.images[1].equals(await png({ randn_source, seed: 43 })), randn_source);
  }
});

test('eta_noise_seed_delta changes ancestral noise only: Euler a differs, Euler is unchanged apart from its infotext', async () => {
  assert.ok(!(await raw(await png({ eta_noise_seed_delta: 31337 }))).equals(await raw(await png())));
  const euler = await png({ sampler: 'Euler' });
  const eulerEnsd = await png({ sampler: 'Euler', eta_noise_seed_delta: 31337 });
  assert.ok((await raw(euler)).equals(await raw(eulerEnsd)));
  assert.equal(parseInfotext(readPngText(eulerEnsd).parameters).ENSD, '31337');
});

test("variation seed: strength 0 is the seed, strength 1 is the subseed's first noise (Euler: no later noise)", async () => {
  const plain = await png({ sampler: 'Euler' });
  assert.ok((await raw(await png({ sampler: 'Euler', subseed: 7, subseed_strength: 0 }))).equals(await raw(plain)));
  const full = await png({ sampler: 'Euler', subseed: 7, subseed_strength: 1 });
  assert.ok((await raw(full)).equals(await raw(await png({ sampler: 'Euler', seed: 7 }))));
  const half = await gen({ sampler: 'Euler', subseed: 7, subseed_strength: 0.5, batch_size: 2 });
  const info = parseInfotext(readPngText(half.images[1]).parameters);
  assert.equal(info['Variation seed'], '8');
  assert.equal(info['Variation seed strength'], '0.5');
  assert.ok(!(await raw(half.images[0])).equals(await raw(plain)));
});

test('seed resize: the same seed drawn "from" the image\'s own size is unchanged; another size changes the image', async () => {
  const plain = await raw(await png({ sampler: 'Euler' }));
  const same = await png({ sampler: 'Euler', seed_resize_from_w: 64, seed_resize_from_h: 64 });
  assert.ok((await raw(same)).equals(plain));
  assert.equal(parseInfotext(readPngText(same).parameters)['Seed resize from'], '64x64');
  assert.ok(!(await raw(await png({ sampler: 'Euler', seed_resize_from_w: 128, seed_resize_from_h: 64 }))).equals(plain));
});
