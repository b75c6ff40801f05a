import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { UnknownLoraError, type GenerationParams } from '@farm/core';
import { ensureTinyLoras } from '@farm/testkit';
import { Engine } from '../src/index';
import { onnx } from '../src/onnx/onnx-proto';
import {
  parseSafetensors,
  writeSafetensors,
  readSafetensors,
  mapLoraKeys,
  linearWeights,
  loadModelProto,
  readFloats,
  buildMergedNetworks,
  listLoras,
  extractLoraTags,
} from '../src/lora';

const { modelsDir, loraDir } = await ensureTinyLoras();
const modelPath = join(modelsDir, 'tiny');
const unetWeights = linearWeights(loadModelProto(join(modelPath, 'unet/model.onnx')));
const teWeights = linearWeights(loadModelProto(join(modelPath, 'text_encoder/model.onnx')));
const modules = { unet: [...unetWeights.keys()], text_encoder: [...teWeights.keys()] };

test('safetensors round trip in F32, F16 and BF16', () => {
  const values = Float32Array.of(0, 1, -2.5, 0.333, 65504, 1e-3);
  const buf = writeSafetensors(
    { a: { dtype: 'F32', shape: [2, 3], data: values }, b: { dtype: 'F16', shape: [6], data: values }, c: { dtype: 'BF16', shape: [6], data: values } },
    { note: 'x' },
  );
  const { tensors, metadata } = parseSafetensors(buf);
  assert.equal(metadata.note, 'x');
  assert.deepEqual(tensors.get('a')!.shape, [2, 3]);
  assert.deepEqual([...tensors.get('a')!.data], [...values]);
  tensors.get('b')!.data.forEach((v, i) => assert.ok(Math.abs(v - values[i]) <= Math.abs(values[i]) * 1e-3 + 1e-4, `f16 ${i}`));
  tensors.get('c')!.data.forEach((v, i) => assert.ok(Math.abs(v - values[i]) <= Math.abs(values[i]) * 1e-2 + 1e-3, `bf16 ${i}`));
  assert.throws(() => parseSafetensors(Buffer.from([1, 2])), /not a safetensors file/);
});

test("kohya and diffusers/PEFT keys map to the graph's Linear layers", () => {
  const kohya = mapLoraKeys(readSafetensors(join(loraDir, 'tiny-style-kohya.safetensors')).tensors, modules);
  assert.deepEqual(kohya.unmatched, []);
  assert.ok(kohya.layers.some((l) => l.target === 'unet' && l.module === 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'));
  assert.ok(kohya.layers.some((l) => l.target === 'unet' && l.module.endsWith('attn2.to_out.0')));
  assert.ok(kohya.layers.some((l) => l.target === 'text_encoder' && l.module === 'text_model.encoder.layers.0.self_attn.q_proj'));
  assert.ok(kohya.layers.every((l) => l.alpha === 2 && l.down.shape[0] === 4));
  const peft = mapLoraKeys(readSafetensors(join(loraDir, 'tiny-detail-diffusers.safetensors')).tensors, modules);
  assert.deepEqual(peft.unmatched, []);
  assert.ok(peft.layers.some((l) => l.module.endsWith('ff.net.0.proj')));
  assert.ok(
    peft.layers.every((l) => l.alpha === l.down.shape[0]),
    'no alpha key means alpha = rank',
  );
  const odd = mapLoraKeys(new Map([['lora_unet_not_a_layer.lora_down.weight', { dtype: 'F32', shape: [1, 1], data: Float32Array.of(1) }]]), modules);
  assert.deepEqual(odd.unmatched, ['lora_unet_not_a_layer.lora_down.weight']);
});

test('a merged weight equals W + weight * (alpha / rank) * up @ down, computed independently', () => {
  const lora = { name: 'tiny-style-kohya', weight: 0.7 };
  const { bytes, matchedLayers } = buildMergedNetworks(modelPath, [lora], listLoras(loraDir));
  assert.ok(matchedLayers > 0);
  const mergedUnet = linearWeights(onnx.ModelProto.decode(bytes.unet as Uint8Array));
  const module = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';
  const before = readFloats(unetWeights.get(module)!.initializer);
  const after = readFloats(mergedUnet.get(module)!.initializer);
  const { layers } = mapLoraKeys(readSafetensors(join(loraDir, 'tiny-style-kohya.safetensors')).tensors, modules);
  const layer = layers.find((l) => l.module === module)!;
  const { inFeatures: nIn, outFeatures: nOut } = unetWeights.get(module)!;
  const rank = 4;
  for (const [i, o] of [
    [0, 0],
    [3, 7],
    [nIn - 1, nOut - 1],
  ]) {
    let delta = 0;
    for (let r = 0; r < rank; r++) delta += layer.up.data[o * rank + r] * layer.down.data[r * nIn + i];
    const expected = before[i * nOut + o] + 0.7 * (2 / 4) * delta;
    assert.ok(Math.abs(after[i * nOut + o] - expected) < 1e-5, `W'[${i}][${o}]`);
  }
  // x @ W' equals x @ W + scale * (x @ down^T) @ up^T on this layer
  const x = Float32Array.from({ length: nIn }, (_, i) => Math.sin(i));
  for (const o of [0, nOut - 1]) {
    let merged = 0;
    let plain = 0;
    for (let i = 0; i < nIn; i++) {
      merged += x[i] * after[i * nOut + o];
      plain += x[i] * before[i * nOut + o];
    }
    let low = 0;
    for (let r = 0; r < rank; r++) {
      let xd = 0;
      for (let i = 0; i < nIn; i++) xd += x[i] * layer.down.data[r * nIn + i];
      low += xd * layer.up.data[o * rank + r];
    }
    assert.ok(Math.abs(merged - (plain + 0.7 * 0.5 * low)) < 1e-4, `output ${o}`);
  }
  assert.ok(bytes.text_encoder, 'the kohya file also changes the text encoder');
});

test('two LoRAs add up: merging both equals the sum of their deltas', () => {
  const available = listLoras(loraDir);
  const decode = (b: Uint8Array | string | null) => linearWeights(onnx.ModelProto.decode(b as Uint8Array));
  const module = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';
  const base = readFloats(unetWeights.get(module)!.initializer);
  const a = readFloats(decode(buildMergedNetworks(modelPath, [{ name: 'tiny-style-kohya', weight: 1 }], available).bytes.unet).get(module)!.initializer);
  const b = readFloats(decode(buildMergedNetworks(modelPath, [{ name: 'tiny-detail-diffusers', weight: 0.5 }], available).bytes.unet).get(module)!.initializer);
  const both = readFloats(
    decode(
      buildMergedNetworks(
        modelPath,
        [
          { name: 'tiny-style-kohya', weight: 1 },
          { name: 'tiny-detail-diffusers', weight: 0.5 },
        ],
        available,
      ).bytes.unet,
    ).get(module)!.initializer,
  );
  for (let i = 0; i < base.length; i += 97) assert.ok(Math.abs(both[i] - (a[i] + b[i] - base[i])) < 1e-5, `index ${i}`);
});

test('in the pipeline: a LoRA changes the image, weight 0 gives the image without it, tags work, unknown names are refused', async () => {
  const engine = new Engine({ modelsDir, loraDir, maxPixels: 1 << 20, maxSteps: 50 });
  const base: GenerationParams = {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a garden',
    negative_prompt: '',
    sampler: 'Euler a',
    scheduler: 'Automatic',
    steps: 6,
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
  };
  const image = async (over: Partial<GenerationParams>) => (await engine.generate([{ id: 'l', params: { ...base, ...over } }]))[0].images[0];
  const pixels = (png: Buffer) => sharp(png).raw().toBuffer();
  const plain = await pixels(await image({}));
  const styled = await pixels(await image({ loras: [{ name: 'tiny-style-kohya', weight: 1 }] }));
  assert.ok(
    styled.some((v, i) => Math.abs(v - plain[i]) > 8),
    'the LoRA changes the output',
  );
  const zero = await pixels(await image({ loras: [{ name: 'tiny-style-kohya', weight: 0 }] }));
  assert.deepEqual(zero, plain);
  const tagged = await pixels(await image({ prompt: 'a garden <lora:tiny-style-kohya:1>' }));
  assert.deepEqual(tagged, styled, 'a prompt tag equals the listed LoRA, and the tag is stripped before tokenizing');
  assert.deepEqual(extractLoraTags('a <lora:x:0.5> b <lora:y>'), {
    prompt: 'a b',
    loras: [
      { name: 'x', weight: 0.5 },
      { name: 'y', weight: 1 },
    ],
  });
  await assert.rejects(
    image({ loras: [{ name: 'nope', weight: 1 }] }),
    (e: unknown) => e instanceof UnknownLoraError && /available: tiny-detail-diffusers, tiny-style-kohya/.test((e as Error).message),
  );
  assert.deepEqual(
    engine.listLoras().map((l) => l.name),
    ['tiny-detail-diffusers', 'tiny-style-kohya'],
  );
  await engine.close();
});

test('models with external data merge too: same weights, same images as the inline model', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { generateModel, presets } = await import('@farm/modelgen');
  const dir = mkdtempSync(join(tmpdir(), 'lora-ext-'));
  await generateModel({ preset: { ...presets.tiny, externalData: true }, outDir: join(dir, 'tiny'), seed: 1, controlnet: false });
  const params: GenerationParams = {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a garden',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 4,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 5,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [{ name: 'tiny-style-kohya', weight: 1 }],
    controlnet: [],
  };
  // the merged graph names its merged tensors in a file of its own and the others in the original weights, which are
  // linked, not copied
  const { statSync, readdirSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  const mergedPath = buildMergedNetworks(join(dir, 'tiny'), params.loras, listLoras(loraDir)).bytes.unet as string;
  const unetDir = join(dir, 'tiny', 'unet');
  const weightsFile = readdirSync(unetDir).find((f) => f !== 'model.onnx')!;
  const merged = linearWeights(loadModelProto(mergedPath));
  const layer = merged.get('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q')!.initializer;
  assert.equal(layer.externalData?.find((e) => e.key === 'location')?.value, 'lora-merged.bin');
  assert.equal(statSync(join(dirname(mergedPath), weightsFile)).ino, statSync(join(unetDir, weightsFile)).ino, 'the original weights are hard-linked');
  assert.ok(statSync(join(dirname(mergedPath), 'lora-merged.bin')).size < statSync(join(unetDir, weightsFile)).size / 2, 'only the merged tensors are written');
  const external = new Engine({ modelsDir: dir, loraDir, maxPixels: 1 << 20, maxSteps: 50 });
  const inline = new Engine({ modelsDir, loraDir, maxPixels: 1 << 20, maxSteps: 50 });
  const [a] = await external.generate([{ id: 'e', params }]);
  const [b] = await inline.generate([{ id: 'i', params }]);
  // pixels, not PNG bytes: the infotext's Model hash differs between the two layouts of the same weights
  const pixels = (png: Buffer) => sharp(png).raw().toBuffer();
  assert.ok((await pixels(a.images[0])).equals(await pixels(b.images[0])));
  const [plain] = await external.generate([{ id: 'p', params: { ...params, loras: [] } }]);
  assert.ok(!(await pixels(plain.images[0])).equals(await pixels(a.images[0])), 'the LoRA was applied');
  await external.close();
  await inline.close();
});
