// ControlNet split at its conditioning embedding (modelgen's controlnet-split.ts): the halves compute what the whole
// graph computes, the engine renders the same image from either layout, and the embedding runs once per job.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import type { ControlNetUnit, GenerationParams } from '@farm/core';
import { ensureTinyModel } from '@farm/testkit';
import { Engine } from '../src/index';
import { SessionCache } from '../src/onnx/session-cache';

const { modelsDir } = await ensureTinyModel();
const tiny = join(modelsDir, 'tiny');
const FP32_EPS = 2 ** -23;

/** Largest |a - b| over max |a| (the scale fp32 rounding is relative to). */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff / scale;
}

function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

test("generated models hold the split ControlNet; embedding + rest give the whole graph's residuals", async () => {
  for (const f of ['cond_embedding.onnx', 'model.embedded.onnx']) assert.ok(existsSync(join(tiny, 'controlnet', f)), f);
  const cache = new SessionCache();
  const whole = await cache.network(tiny, 'controlnet');
  const embedding = await cache.network(tiny, 'controlnet', 'cond_embedding.onnx');
  const rest = await cache.network(tiny, 'controlnet', 'model.embedded.onnx');
  assert.deepEqual(embedding.inputNames, ['controlnet_cond']);
  assert.deepEqual([...rest.inputNames].sort(), ['conditioning_scale', 'controlnet_cond_embedding', 'encoder_hidden_states', 'sample', 'timestep']);
  const B = 2;
  const seq = 77;
  const channels = 32;
  const feeds = {
    sample: new ort.Tensor('float32', seeded(B * 4 * 8 * 8, 1), [B, 4, 8, 8]),
    timestep: new ort.Tensor('float32', Float32Array.of(500, 500), [B]),
    encoder_hidden_states: new ort.Tensor('float32', seeded(B * seq * channels, 2), [B, seq, channels]),
    conditioning_scale: new ort.Tensor('float32', Float32Array.of(1), []),
  };
  const image = new ort.Tensor('float32', seeded(B * 3 * 64 * 64, 3), [B, 3, 64, 64]);
  const a = await whole.run({ ...feeds, controlnet_cond: image });
  const e = await embedding.run({ controlnet_cond: image });
  const b = await rest.run({ ...feeds, controlnet_cond_embedding: e.controlnet_cond_embedding });
  assert.deepEqual([...e.controlnet_cond_embedding.dims], [B, 32, 8, 8]);
  for (const name of whole.outputNames) {
    // the same operations on the same values; the one freedom is onnxruntime fusing the embedding's last Conv with the
    // Add after conv_in in the whole graph (Conv+Add fusion) — one reordered addition, a few ulps of the values'
    // scale, carried through the encoder: allow 64 ulps
    const err = relativeError(a[name].data as Float32Array, b[name].data as Float32Array);
    assert.ok(err <= 64 * FP32_EPS, `${name}: ${err}`);
  }
  await cache.close();
});

test('the engine renders the same image from the split and the old single-graph layout; the embedding runs once per job', async () => {
  // an old-layout copy: controlnet/model.onnx alone
  const oldDir = mkdtempSync(join(tmpdir(), 'cn-old-'));
  cpSync(tiny, join(oldDir, 'tiny'), { recursive: true });
  for (const f of ['cond_embedding.onnx', 'model.embedded.onnx']) rmSync(join(oldDir, 'tiny', 'controlnet', f));
  const control = (
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
      .composite([{ input: { create: { width: 20, height: 30, channels: 3, background: '#fff' } }, left: 12, top: 10 }])
      .png()
      .toBuffer()
  ).toString('base64');
  const unit = (weight: number): ControlNetUnit => ({
    image: control,
    module: 'canny',
    model: 'default',
    weight,
    guidance_start: 0,
    guidance_end: 1,
    processor_res: 512,
    threshold_a: 100,
    threshold_b: 200,
  });
  const params: GenerationParams = {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a house',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 5,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 11,
    batch_size: 2,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [unit(1), unit(0.6)],
  };
  const render = async (dir: string) => {
    const engine = new Engine({ modelsDir: dir, maxPixels: 1 << 20, maxSteps: 50 });
    const latents: Float32Array[] = [];
    let embeddingRuns = 0;
    let controlNetRuns = 0;
    // count the real sessions' runs: wrap them once they are loaded (a first job loads them)
    await engine.generate([{ id: 'warm', params: { ...params, steps: 1, batch_size: 1 } }]);
    for (const { key } of engine.cache.list()) {
      if (!key.includes('|controlnet|')) continue;
      const session = await engine.cache.get(key, () => {
        throw new Error('loaded above');
      });
      const run = session.run.bind(session);
      session.run = ((...args: Parameters<typeof run>) => {
        if (key.includes('cond_embedding')) embeddingRuns++;
        else controlNetRuns++;
        return run(...args);
      }) as typeof session.run;
    }
    const [r] = await engine.generate(
      [
        { id: 'x', params },
        { id: 'y', params: { ...params, seed: 40, controlnet: [unit(0.8), unit(0.3)] } },
      ],
      { onLatent: (_, x) => latents.push(Float32Array.from(x)) },
    );
    await engine.close();
    return { latents, png: r.images, embeddingRuns, controlNetRuns };
  };
  const split = await render(modelsDir);
  const old = await render(oldDir);
  // once per unit for the whole batch of two jobs (one run embeds both jobs' maps), never per step
  assert.equal(split.embeddingRuns, 2);
  assert.equal(old.embeddingRuns, 0);
  // the rest of the ControlNet runs at every model call for every unit, as the whole graph does in the old layout
  assert.equal(split.controlNetRuns, params.steps * 2);
  assert.equal(old.controlNetRuns, params.steps * 2);
  assert.equal(split.latents.length, 4);
  // the same arithmetic as the whole graph up to the one fused addition per step (see above), carried through 5 Euler
  // steps of the UNet: 1e3 ulps of the latents' scale
  split.latents.forEach((l, i) => {
    const err = relativeError(old.latents[i], l);
    assert.ok(err <= 1e3 * FP32_EPS, `latent ${i}: ${err}`);
  });
  rmSync(oldDir, { recursive: true, force: true });
});
