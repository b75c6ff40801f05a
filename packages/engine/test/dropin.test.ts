import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationParams } from '@farm/core';
import { generateModel, importCheckpoint, writeLdmCheckpoint } from '@farm/modelgen';
import { Engine, scanModelsDir, type ModelImporter } from '../src/index';

test('scanModelsDir: ONNX folders, checkpoint files, diffusers folders, VAE files; pickles refused; dot folders skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scan-'));
  for (const f of [
    'a/unet/model.onnx',
    'a/text_encoder/model.onnx',
    'd/unet/diffusion_pytorch_model.safetensors',
    'd/vae/diffusion_pytorch_model.safetensors',
    'p/unet/diffusion_pytorch_model.bin',
    'p/vae/diffusion_pytorch_model.bin',
    '.converted/x-1/unet/model.onnx',
    '.converted/x-1/text_encoder/model.onnx',
  ]) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), '');
  }
  for (const f of ['a.safetensors', 'c.safetensors', 'kl-f8.vae.safetensors', 'old.ckpt', 'w.bin', 'notes.txt']) writeFileSync(join(dir, f), '');
  const s = scanModelsDir(dir);
  assert.deepEqual(
    s.models.map((m) => [m.name, m.format]),
    [
      ['a', 'onnx'],
      ['d', 'diffusers'],
      ['a.safetensors', 'ldm'],
      ['c', 'ldm'],
    ],
  );
  assert.deepEqual(
    s.vaes.map((v) => v.name),
    ['kl-f8.vae'],
  );
  assert.deepEqual(
    s.refused.map((r) => r.file),
    ['p', 'old.ckpt', 'w.bin'],
  );
  assert.ok(s.refused.every((r) => /pickle.*never unpickled.*safetensors/.test(r.reason)));
});

test('a dropped-in checkpoint converts once, on first use, with the conversion reported as progress', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dropin-engine-'));
  await generateModel({ preset: 'tiny', outDir: join(dir, 'tiny'), seed: 1, controlnet: false });
  writeLdmCheckpoint(join(dir, 'mine.safetensors'), { preset: 'tiny', seed: 1 });
  let conversions = 0;
  const importer: ModelImporter = async (source, outDir, opts) => {
    conversions++;
    await importCheckpoint(source.path, { outDir, ...opts });
  };
  const params: GenerationParams = {
    kind: 'txt2img',
    model: 'mine',
    prompt: 'a cat',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 3,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 3,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
  } as GenerationParams;
  const steps: string[] = [];
  const engine = new Engine({ modelsDir: dir, maxPixels: 1 << 16, maxSteps: 50, importer });
  assert.deepEqual(
    engine.listModels().map((m) => m.name),
    ['tiny', 'mine'],
  );
  const [first] = await engine.generate([{ id: 'a', params }], { onStep: (s, n) => steps.push(`${s}/${n}`) });
  assert.equal(first.images.length, 1);
  assert.deepEqual(steps, ['1/4', '2/4', '3/4', '4/4', '1/3', '2/3', '3/3'], 'four network conversions, then three sampling steps');
  steps.length = 0;
  await engine.generate([{ id: 'b', params }], { onStep: (s, n) => steps.push(`${s}/${n}`) });
  assert.deepEqual(steps, ['1/3', '2/3', '3/3']);
  await engine.close();
  // another worker (a new engine on the same folder) finds the conversion by the file's hash
  const again = new Engine({ modelsDir: dir, maxPixels: 1 << 16, maxSteps: 50, importer });
  const [second] = await again.generate([{ id: 'c', params }]);
  assert.ok(second.images[0].equals(first.images[0]));
  assert.equal(conversions, 1);
  assert.equal(readdirSync(join(dir, '.converted')).filter((n) => n.startsWith('mine-')).length, 1);
  await again.close();
  // a new graph version (the importer's) converts again, beside the old conversion
  const next = Object.assign(async (...args: Parameters<ModelImporter>) => importer(...args), { version: 'graph99' });
  const upgraded = new Engine({ modelsDir: dir, maxPixels: 1 << 16, maxSteps: 50, importer: next });
  await upgraded.generate([{ id: 'u', params }]);
  assert.equal(conversions, 2);
  assert.ok(readdirSync(join(dir, '.converted')).some((n) => n.startsWith('mine-') && n.endsWith('-graph99')));
  await upgraded.close();
  // without an importer the engine says what it cannot do
  const bare = new Engine({ modelsDir: mkdtempSync(join(tmpdir(), 'bare-')), maxPixels: 1 << 16, maxSteps: 50 });
  writeLdmCheckpoint(join(bare.opts.modelsDir, 'x.safetensors'), { preset: 'tiny', seed: 1 });
  bare.registry.refresh();
  await assert.rejects(bare.generate([{ id: 'd', params: { ...params, model: 'x' } }]), /checkpoint file that must be converted/);
});
