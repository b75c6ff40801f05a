import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ValidationError, UnknownModelError, UnknownSamplerError, type GenerationParams } from '@farm/core';
import { ensureTinyModel, txt2imgParams } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';

const { modelsDir } = await ensureTinyModel();
const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });

const base: GenerationParams = txt2imgParams({
  prompt: 'a lighthouse on a cliff, (sunset:1.2)',
  negative_prompt: 'blurry',
  sampler: 'Euler a',
  steps: 8,
  seed: 42,
});
const gen = async (over: Partial<GenerationParams> = {}, id = 'job') => (await engine.generate([{ id, params: { ...base, ...over } }]))[0];
const pixels = async (png: Buffer) => sharp(png).raw().toBuffer();
const maxDiff = (a: Buffer, b: Buffer) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('txt2img gives batch_size PNGs of the requested size with the infotext chunk', async () => {
  const r = await gen({ batch_size: 2, width: 64, height: 96 });
  assert.equal(r.images.length, 2);
  assert.deepEqual(r.seeds, [42, 43]);
  for (const [i, png] of r.images.entries()) {
    const meta = await sharp(png).metadata();
    assert.equal(meta.width, 64);
    assert.equal(meta.height, 96);
    const info = parseInfotext(readPngText(png).parameters);
    assert.equal(info.prompt, base.prompt);
    assert.equal(info.negative_prompt, 'blurry');
    assert.equal(info.Seed, String(42 + i));
    assert.equal(info.Sampler, 'Euler a');
    assert.equal(info.Size, '64x96');
  }
  const px = await pixels(r.images[0]);
  assert.ok(new Set(px).size > 50, 'the image has real variation');
});

test('the same request twice gives byte-identical PNGs; another seed differs', async () => {
  const a = await gen();
  const b = await gen();
  assert.ok(a.images[0].equals(b.images[0]));
  const c = await gen({ seed: 43 });
  assert.ok(!a.images[0].equals(c.images[0]));
});

test('a batch of items with different prompts, seeds and CFG equals each run alone', async () => {
  const variants: Partial<GenerationParams>[] = [
    { prompt: 'a red car', seed: 1, cfg_scale: 7 },
    { prompt: 'a blue boat on a lake', seed: 2, cfg_scale: 4.5, batch_size: 2 },
    { prompt: 'a castle', negative_prompt: '', seed: 3, cfg_scale: 1 },
  ];
  const together = await engine.generate(variants.map((v, i) => ({ id: `i${i}`, params: { ...base, ...v } })));
  for (const [i, v] of variants.entries()) {
    const alone = await gen(v, `i${i}`);
    assert.equal(together[i].images.length, alone.images.length);
    for (const [k, img] of alone.images.entries()) {
      assert.ok(maxDiff(await pixels(img), await pixels(together[i].images[k])) <= 2, `item ${i} image ${k}`);
    }
  }
});

test('every sampler runs end to end and reports steps 1..n in order', async () => {
  for (const sampler of ['Euler', 'Euler a', 'DPM++ 2M', 'DPM++ 2M Karras', 'Heun', 'DDIM', 'LMS', 'LCM']) {
    const steps: number[] = [];
    const r = await engine.generate([{ id: 's', params: { ...base, sampler, steps: 4 } }], {
      onStep: (s, n) => {
        steps.push(s);
        assert.equal(n, 4);
      },
    });
    assert.deepEqual(steps, [1, 2, 3, 4], sampler);
    assert.equal(r[0].images.length, 1);
  }
});

test('img2img with low strength stays close to its input latent, high strength moves away', async () => {
  const source = (await gen({ seed: 5 })).images[0];
  const init_image = source.toString('base64');
  const params = { ...base, kind: 'img2img' as const, init_image, steps: 20, seed: 9 };
  const init = await engine.encodeInit(engine.registry.get('tiny'), params);
  const distance = async (denoising_strength: number) => {
    let latent: Float32Array = new Float32Array();
    await engine.generate([{ id: 'i', params: { ...params, denoising_strength } }], {
      onLatent: (_, x) => {
        latent = x;
      },
    });
    let d = 0;
    let n = 0;
    for (let i = 0; i < init.length; i++) {
      d += (latent[i] - init[i]) ** 2;
      n += init[i] ** 2;
    }
    return Math.sqrt(d / n);
  };
  const low = await distance(0.1);
  const high = await distance(0.95);
  assert.ok(low < 0.5 * high, `relative distance at strength 0.1 (${low}) should be well below that at 0.95 (${high})`);
  const r = await gen({ ...params, denoising_strength: 0.15 });
  assert.match(parseInfotext(readPngText(r.images[0]).parameters)['Denoising strength'], /0\.15/);
  const dataUrl = await gen({ ...params, init_image: `data:image/png;base64,${init_image}`, denoising_strength: 0.15 });
  assert.ok(dataUrl.images[0].equals(r.images[0]), 'a data: URL prefix is accepted');
});

test('cancelling one item between steps drops only its rows', async () => {
  const items = [
    { id: 'keep', params: { ...base, seed: 7 } },
    { id: 'drop', params: { ...base, seed: 8 } },
  ];
  let step = 0;
  const r = await engine.generate(items, {
    onStep: (s) => {
      step = s;
    },
    isCanceled: (id) => id === 'drop' && step >= 3,
  });
  assert.equal(r[1].canceled, true);
  assert.equal(r[1].images.length, 0);
  assert.equal(r[0].canceled, false);
  const alone = await gen({ seed: 7 }, 'keep');
  assert.ok(maxDiff(await pixels(alone.images[0]), await pixels(r[0].images[0])) <= 2);
});

test('long prompts (more than 75 tokens) run in chunks', async () => {
  const prompt = Array.from({ length: 60 }, (_, i) => `word${i}`).join(', ');
  const r = await gen({ prompt });
  assert.equal(r.images.length, 1);
});

test('bad input throws typed errors that name the field', async () => {
  const cases: [Partial<GenerationParams>, new (...a: never[]) => Error, RegExp][] = [
    [{ model: 'nope' }, UnknownModelError, /available: (.*, )?tiny\b/],
    [{ sampler: 'Bogus' }, UnknownSamplerError, /Euler a/],
    [{ width: 65 }, ValidationError, /width must be a multiple of 8/],
    [{ height: 0 }, ValidationError, /height/],
    [{ width: 512, height: 512 }, ValidationError, /exceeds the maximum/],
    [{ steps: 0 }, ValidationError, /steps/],
    [{ steps: 151 }, ValidationError, /steps/],
    [{ cfg_scale: Number.NaN }, ValidationError, /cfg_scale/],
    [{ kind: 'img2img' }, ValidationError, /init_image/],
    [{ kind: 'img2img', init_image: Buffer.from('not an image').toString('base64') }, ValidationError, /init_image is not a decodable image/],
  ];
  for (const [over, type, message] of cases) {
    await assert.rejects(gen(over), (e: unknown) => e instanceof type && message.test((e as Error).message), JSON.stringify(over).slice(0, 60));
  }
});

test('a model whose scheduler_config has an unknown prediction_type or timestep_spacing fails validation naming it', async () => {
  const { cpSync, mkdtempSync, writeFileSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'variant-models-'));
  const variants = {
    'tiny-sample': { prediction_type: 'sample' },
    'tiny-odd-spacing': { timestep_spacing: 'sideways' },
    'tiny-v': { prediction_type: 'v_prediction' },
  };
  for (const [name, patch] of Object.entries(variants)) {
    cpSync(join(modelsDir, 'tiny'), join(dir, name), { recursive: true });
    const file = join(dir, name, 'scheduler/scheduler_config.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...patch }));
  }
  const variantEngine = new Engine({ modelsDir: dir, maxPixels: 64 * 64, maxSteps: 10 });
  try {
    const params = (model: string) => ({ ...base, model, steps: 2 });
    assert.throws(
      () => variantEngine.validate(params('tiny-sample')),
      (e: unknown) => e instanceof ValidationError && /prediction_type "sample" is not supported; supported: epsilon, v_prediction/.test((e as Error).message),
    );
    assert.throws(
      () => variantEngine.validate(params('tiny-odd-spacing')),
      (e: unknown) => e instanceof ValidationError && /timestep_spacing "sideways"/.test((e as Error).message),
    );
    // a v-prediction model runs, and reads its output as v: the same weights give another image than as epsilon
    const [v] = await variantEngine.generate([{ id: 'v', params: params('tiny-v') }]);
    const eps = await gen({ steps: 2 });
    assert.notDeepEqual(await pixels(v.images[0]), await pixels(eps.images[0]));
  } finally {
    await variantEngine.close();
  }
});

test('DPM adaptive: images of one batch take different step sizes and still equal their single runs', async () => {
  const params = { sampler: 'DPM adaptive', discretization: 'a1111' as const, steps: 3, seed: 5 };
  const batch = await gen({ ...params, batch_size: 2 });
  const singles = [await gen({ ...params }), await gen({ ...params, seed: 6 })];
  assert.deepEqual(await pixels(batch.images[0]), await pixels(singles[0].images[0]));
  assert.deepEqual(await pixels(batch.images[1]), await pixels(singles[1].images[0]));
});

test('second-order samplers schedule prompt editing over twice the steps, one entry per model call (A1111 total_steps)', async () => {
  const px = async (sampler: string, prompt: string) => pixels((await gen({ sampler, prompt, steps: 4, discretization: 'a1111' })).images[0]);
  // Euler: 4 calls, [a:b:4] never switches; Heun: a schedule of 8 for its 7 calls, so it switches after call 4
  assert.deepEqual(await px('Euler', '[a lighthouse:a castle:4]'), await px('Euler', 'a lighthouse'));
  assert.notDeepEqual(await px('Heun', '[a lighthouse:a castle:4]'), await px('Heun', 'a lighthouse'));
  assert.deepEqual(await px('Heun', '[a lighthouse:a castle:8]'), await px('Heun', 'a lighthouse'));
});
