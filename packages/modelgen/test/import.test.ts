import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensorsFile, loadModelProto, linearWeights } from '@farm/engine/lora';
import { fromFloat16Bits, toFloat16Bits } from '@farm/core';
import { ensureTinyModel, ensureTinyTaiyiModel } from '@farm/testkit';
import { importCheckpoint, checkpointFormat, writeLdmCheckpoint, writeDiffusersFolder, presets } from '../src/index';
import { listWeights } from '../src/linear-modules';
import { KeyTable, unetPairs, vaePairs, unetStructure, vaeStructure, LDM_PREFIX } from '../src/import/ldm-keys';
import { ldmUnetStructure } from '../src/import/checkpoint-sources';

const tmp = () => mkdtempSync(join(tmpdir(), 'import-'));
const { modelsDir } = await ensureTinyModel();
const tiny = join(modelsDir, 'tiny');
const NETWORKS = ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder'];
const sameOnnx = (a: string, b: string) =>
  NETWORKS.forEach((n) => assert.ok(readFileSync(join(a, n, 'model.onnx')).equals(readFileSync(join(b, n, 'model.onnx'))), n));

test('LDM <-> diffusers names follow the SD1.5 conversion rules (pairs known from SD1.5 checkpoints)', () => {
  const unet = new KeyTable(unetPairs(unetStructure(presets.sd15.unet)));
  const vae = new KeyTable(vaePairs(vaeStructure(presets.sd15.vae)));
  const known: [KeyTable, string, string][] = [
    [unet, 'time_embedding.linear_1.weight', 'time_embed.0.weight'],
    [unet, 'conv_in.bias', 'input_blocks.0.0.bias'],
    [unet, 'conv_norm_out.weight', 'out.0.weight'],
    [unet, 'conv_out.weight', 'out.2.weight'],
    [unet, 'down_blocks.0.resnets.0.norm1.weight', 'input_blocks.1.0.in_layers.0.weight'],
    [unet, 'down_blocks.0.resnets.1.conv1.weight', 'input_blocks.2.0.in_layers.2.weight'],
    [unet, 'down_blocks.0.attentions.1.proj_in.weight', 'input_blocks.2.1.proj_in.weight'],
    [unet, 'down_blocks.0.downsamplers.0.conv.weight', 'input_blocks.3.0.op.weight'],
    [unet, 'down_blocks.1.resnets.0.conv_shortcut.weight', 'input_blocks.4.0.skip_connection.weight'],
    [unet, 'down_blocks.3.resnets.1.time_emb_proj.bias', 'input_blocks.11.0.emb_layers.1.bias'],
    [unet, 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight', 'middle_block.1.transformer_blocks.0.attn2.to_k.weight'],
    [unet, 'mid_block.resnets.1.norm2.bias', 'middle_block.2.out_layers.0.bias'],
    [unet, 'up_blocks.0.resnets.2.conv2.weight', 'output_blocks.2.0.out_layers.3.weight'],
    [unet, 'up_blocks.0.upsamplers.0.conv.weight', 'output_blocks.2.1.conv.weight'],
    [unet, 'up_blocks.1.attentions.0.transformer_blocks.0.ff.net.0.proj.weight', 'output_blocks.3.1.transformer_blocks.0.ff.net.0.proj.weight'],
    [unet, 'up_blocks.1.upsamplers.0.conv.bias', 'output_blocks.5.2.conv.bias'],
    [unet, 'up_blocks.3.attentions.2.proj_out.bias', 'output_blocks.11.1.proj_out.bias'],
    [vae, 'encoder.conv_norm_out.weight', 'encoder.norm_out.weight'],
    [vae, 'encoder.down_blocks.1.resnets.0.conv_shortcut.weight', 'encoder.down.1.block.0.nin_shortcut.weight'],
    [vae, 'encoder.down_blocks.2.downsamplers.0.conv.weight', 'encoder.down.2.downsample.conv.weight'],
    [vae, 'encoder.mid_block.attentions.0.group_norm.weight', 'encoder.mid.attn_1.norm.weight'],
    [vae, 'decoder.mid_block.attentions.0.to_q.weight', 'decoder.mid.attn_1.q.weight'],
    [vae, 'decoder.mid_block.attentions.0.to_out.0.bias', 'decoder.mid.attn_1.proj_out.bias'],
    [vae, 'decoder.mid_block.resnets.1.conv2.weight', 'decoder.mid.block_2.conv2.weight'],
    [vae, 'decoder.up_blocks.0.resnets.0.conv1.weight', 'decoder.up.3.block.0.conv1.weight'],
    [vae, 'decoder.up_blocks.0.upsamplers.0.conv.weight', 'decoder.up.3.upsample.conv.weight'],
    [vae, 'decoder.up_blocks.3.resnets.2.norm2.bias', 'decoder.up.0.block.2.norm2.bias'],
    [vae, 'post_quant_conv.weight', 'post_quant_conv.weight'],
  ];
  for (const [table, diffusers, ldm] of known) {
    assert.equal(table.toLdm(diffusers), ldm);
    assert.equal(table.toDiffusers(ldm), diffusers);
  }
  // every parameter of the SD1.5 graph has its own LDM name and maps back; the structure reads back from those names
  for (const [table, network] of [
    [unet, 'unet'],
    [vae, 'vae'],
  ] as const) {
    const keys = listWeights(presets.sd15, network).map((w) => w.key);
    const ldm = keys.map((k) => table.toLdm(k));
    assert.equal(new Set(ldm).size, keys.length);
    ldm.forEach((k, i) => assert.equal(table.toDiffusers(k), keys[i]));
  }
  const ldmNames = listWeights(presets.sd15, 'unet').map((w) => LDM_PREFIX.unet + unet.toLdm(w.key));
  assert.deepEqual(ldmUnetStructure(ldmNames), { levels: 4, layersPerBlock: 2, attention: [true, true, true, false] });
});

test("an LDM single file (fp32, with EMA copies and schedule buffers) imports to the generator's own graph, byte for byte", async () => {
  const dir = tmp();
  writeLdmCheckpoint(join(dir, 'tiny.safetensors'), { preset: 'tiny', seed: 1, ema: true });
  const result = await importCheckpoint(join(dir, 'tiny.safetensors'), { outDir: join(dir, 'out'), tokenizerDir: join(tiny, 'tokenizer') });
  assert.deepEqual(result.variant, { inpainting: false, predictionType: 'epsilon', textEncoder: 'clip' });
  assert.equal(result.format, 'ldm');
  sameOnnx(join(dir, 'out'), tiny);
  assert.equal(readFileSync(join(dir, 'out/tokenizer/vocab.json'), 'utf8'), readFileSync(join(tiny, 'tokenizer/vocab.json'), 'utf8'));
});

test("a diffusers folder imports byte for byte; without a tokenizer option a single file borrows its neighbour's", async () => {
  const dir = tmp();
  writeDiffusersFolder(join(dir, 'tiny-diffusers'), { preset: 'tiny', seed: 1 });
  await importCheckpoint(join(dir, 'tiny-diffusers'), { outDir: join(dir, 'out') });
  sameOnnx(join(dir, 'out'), tiny);
  writeLdmCheckpoint(join(dir, 'single.safetensors'), { preset: 'tiny', seed: 1 });
  await importCheckpoint(join(dir, 'single.safetensors'), { outDir: join(dir, 'out2') });
  sameOnnx(join(dir, 'out2'), tiny);
});

test('the Taiyi-shaped diffusers folder (BertModel text encoder, vocab.txt) imports to the tiny-taiyi graph', async () => {
  const taiyi = join((await ensureTinyTaiyiModel()).modelsDir, 'tiny-taiyi');
  const dir = tmp();
  writeDiffusersFolder(join(dir, 'taiyi'), { preset: 'tiny-taiyi', seed: 1 });
  const result = await importCheckpoint(join(dir, 'taiyi'), { outDir: join(dir, 'out') });
  assert.equal(result.variant.textEncoder, 'bert');
  sameOnnx(join(dir, 'out'), taiyi);
  assert.equal(readFileSync(join(dir, 'out/tokenizer/vocab.txt'), 'utf8'), readFileSync(join(taiyi, 'tokenizer/vocab.txt'), 'utf8'));
});

const f32 = (t: { rawData?: Uint8Array | null }) => new Float32Array(Uint8Array.from(t.rawData!).buffer);
const initializers = (dir: string, net: string) => new Map(loadModelProto(join(dir, net, 'model.onnx')).graph!.initializer!.map((t) => [t.name!, t]));

test('fp16 and bf16 checkpoints: the graph holds the stored values widened to float32 (conv and transposed Linear weights)', async () => {
  const dir = tmp();
  const original = initializers(tiny, 'unet');
  const convIn = f32(original.get('conv_in.weight')!);
  const linear = linearWeightOf(tiny, 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q');
  const roundings = {
    F16: (v: number) => fromFloat16Bits(toFloat16Bits(v)),
    BF16: (v: number) => new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(v).buffer)[0] & 0xffff0000]).buffer)[0],
  };
  for (const [dtype, round] of Object.entries(roundings) as [keyof typeof roundings, (v: number) => number][]) {
    writeLdmCheckpoint(join(dir, `${dtype}.safetensors`), { preset: 'tiny', seed: 1, dtype });
    await importCheckpoint(join(dir, `${dtype}.safetensors`), { outDir: join(dir, dtype), tokenizerDir: join(tiny, 'tokenizer') });
    const imported = f32(initializers(join(dir, dtype), 'unet').get('conv_in.weight')!);
    assert.deepEqual(imported, convIn.map(round), dtype);
    assert.ok(
      imported.some((v, i) => v !== convIn[i]),
      `${dtype} rounding is visible`,
    );
    assert.deepEqual(linearWeightOf(join(dir, dtype), 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'), linear.map(round), dtype);
  }
});

function linearWeightOf(dir: string, module: string): Float32Array {
  return f32(linearWeights(loadModelProto(join(dir, 'unet/model.onnx'))).get(module)!.initializer);
}

test('a checkpoint that does not match its graph is refused with the missing and unexpected names', async () => {
  const dir = tmp();
  writeLdmCheckpoint(join(dir, 'full.safetensors'), { preset: 'tiny', seed: 1 });
  const full = new SafetensorsFile(join(dir, 'full.safetensors'));
  const names = [...full.tensors.keys()];
  const dropped = 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_k.weight';
  assert.ok(names.includes(dropped));
  writeSafetensorsFile(join(dir, 'broken.safetensors'), [
    ...names.filter((n) => n !== dropped).map((name) => ({ name, dtype: 'F32' as const, shape: full.shape(name)!, data: () => full.read(name) })),
    { name: 'model.diffusion_model.extra_block.weight', dtype: 'F32', shape: [2], data: () => Float32Array.of(1, 2) },
  ]);
  copyFileSync(join(dir, 'full.yaml'), join(dir, 'broken.yaml'));
  full.close();
  await assert.rejects(importCheckpoint(join(dir, 'broken.safetensors'), { outDir: join(dir, 'out'), tokenizerDir: join(tiny, 'tokenizer') }), (e: Error) =>
    /unet:\s+missing \(1\): down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_k\.weight\s+unexpected \(1\): model\.diffusion_model\.extra_block\.weight/.test(
      e.message,
    ),
  );
});

test('pickles are refused by name, never opened; variants: 9-channel inpainting UNet, v-prediction from the sidecar yaml', async () => {
  for (const f of ['model.ckpt', 'model.pt', 'model.bin', 'model.pth']) assert.throws(() => checkpointFormat(f), /pickle.*refused.*safetensors/);
  const dir = tmp();
  writeDiffusersFolder(join(dir, 'pickled'), { preset: 'tiny', seed: 1 });
  writeFileSync(join(dir, 'pickled/text_encoder/pytorch_model.bin'), 'not opened');
  renameSync(join(dir, 'pickled/unet/diffusion_pytorch_model.safetensors'), join(dir, 'pickled/unet/diffusion_pytorch_model.bin'));
  await assert.rejects(
    importCheckpoint(join(dir, 'pickled'), { outDir: join(dir, 'o') }),
    /diffusion_pytorch_model\.bin: pickle weights are refused.*safetensors/,
  );
  const inpaint = { ...presets.tiny, unet: { ...presets.tiny.unet, inChannels: 9 } };
  writeLdmCheckpoint(join(dir, 'inpaint.safetensors'), { preset: inpaint, seed: 1, parameterization: 'v' });
  const r = await importCheckpoint(join(dir, 'inpaint.safetensors'), { outDir: join(dir, 'inpaint'), tokenizerDir: join(tiny, 'tokenizer') });
  assert.deepEqual(r.variant, { inpainting: true, predictionType: 'v_prediction', textEncoder: 'clip' });
  assert.equal(JSON.parse(readFileSync(join(dir, 'inpaint/scheduler/scheduler_config.json'), 'utf8')).prediction_type, 'v_prediction');
  const sample = loadModelProto(join(dir, 'inpaint/unet/model.onnx')).graph!.input!.find((i) => i.name === 'sample')!;
  assert.equal(Number(sample.type!.tensorType!.shape!.dim![1].dimValue), 9);
  // --prediction-type overrides the yaml
  const e = await importCheckpoint(join(dir, 'inpaint.safetensors'), {
    outDir: join(dir, 'eps'),
    tokenizerDir: join(tiny, 'tokenizer'),
    predictionType: 'epsilon',
  });
  assert.equal(e.variant.predictionType, 'epsilon');
});
