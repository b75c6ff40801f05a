import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { generateModel } from '../src/index';

const tmp = () => mkdtempSync(join(tmpdir(), 'modelgen-'));
const opts = { executionProviders: ['cpu'] } as ort.InferenceSession.SessionOptions;
type Meta = { name: string; type: string; shape: (number | string)[] };
const meta = (s: ort.InferenceSession, which: 'inputMetadata' | 'outputMetadata') => (s as unknown as Record<string, Meta[]>)[which];
const finite = (t: ort.Tensor) => (t.data as Float32Array).every(Number.isFinite);
const f32 = (dims: number[], f: (i: number) => number) =>
  new ort.Tensor(
    'float32',
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
    dims,
  );

const dir = tmp();
const ready = generateModel({ preset: 'tiny', outDir: dir, seed: 3 });

test('writes the diffusers ONNX layout', async () => {
  await ready;
  for (const f of [
    'model_index.json',
    'text_encoder/model.onnx',
    'unet/model.onnx',
    'vae_encoder/model.onnx',
    'vae_decoder/model.onnx',
    'controlnet/model.onnx',
    'unet_controlnet/model.onnx',
    'tokenizer/vocab.json',
    'tokenizer/merges.txt',
    'scheduler/scheduler_config.json',
  ]) {
    assert.ok(readFileSync(join(dir, f)).length > 0, f);
  }
  const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8'));
  assert.equal(index._class_name, 'OnnxStableDiffusionPipeline');
  const sched = JSON.parse(readFileSync(join(dir, 'scheduler/scheduler_config.json'), 'utf8'));
  assert.equal(sched.beta_schedule, 'scaled_linear');
  const vocab = JSON.parse(readFileSync(join(dir, 'tokenizer/vocab.json'), 'utf8'));
  const ids = Object.values(vocab) as number[];
  assert.equal(vocab['<|endoftext|>'], Math.max(...ids));
  assert.equal(vocab['<|startoftext|>'], Math.max(...ids) - 1);
});

test('networks have the names, dtypes and dynamic axes of a real export and give finite outputs', async () => {
  await ready;
  const te = await ort.InferenceSession.create(join(dir, 'text_encoder/model.onnx'), opts);
  assert.deepEqual(
    meta(te, 'inputMetadata').map((m) => [m.name, m.type, m.shape]),
    [['input_ids', 'int32', ['batch', 'sequence']]],
  );
  assert.deepEqual(
    te.outputNames,
    ['last_hidden_state', 'pooler_output', 'hidden_states.0', 'hidden_states.1', 'hidden_states.2'],
    'output_hidden_states as optimum names them: embeddings + one per layer',
  );
  const ids = new ort.Tensor(
    'int32',
    Int32Array.from({ length: 77 * 3 }, (_, i) => (i % 77) + 3),
    [3, 77],
  );
  const text = await te.run({ input_ids: ids });
  assert.deepEqual(text.last_hidden_state.dims, [3, 77, 32]);
  assert.deepEqual(text.pooler_output.dims, [3, 32]);
  assert.ok(finite(text.last_hidden_state));

  const unet = await ort.InferenceSession.create(join(dir, 'unet/model.onnx'), opts);
  assert.deepEqual(
    meta(unet, 'inputMetadata').map((m) => [m.name, m.type, m.shape]),
    [
      ['sample', 'float32', ['batch', 4, 'height', 'width']],
      ['timestep', 'float32', ['batch']],
      ['encoder_hidden_states', 'float32', ['batch', 'sequence', 32]],
    ],
  );
  assert.deepEqual(unet.outputNames, ['out_sample']);
  for (const [h, w] of [
    [8, 8],
    [8, 12],
  ]) {
    const out = await unet.run({ sample: f32([3, 4, h, w], (i) => Math.sin(i)), timestep: f32([3], () => 500), encoder_hidden_states: text.last_hidden_state });
    assert.deepEqual(out.out_sample.dims, [3, 4, h, w]);
    assert.ok(finite(out.out_sample));
  }

  const dec = await ort.InferenceSession.create(join(dir, 'vae_decoder/model.onnx'), opts);
  const image = await dec.run({ latent_sample: f32([1, 4, 8, 12], (i) => Math.cos(i)) });
  assert.deepEqual(image.sample.dims, [1, 3, 64, 96]);
  const enc = await ort.InferenceSession.create(join(dir, 'vae_encoder/model.onnx'), opts);
  const latent = await enc.run({ sample: image.sample });
  assert.deepEqual(latent.latent_sample.dims, [1, 4, 8, 12]);
  assert.ok(finite(latent.latent_sample));
});

test('a batch of 2 through the UNet equals two single runs', async () => {
  await ready;
  const unet = await ort.InferenceSession.create(join(dir, 'unet/model.onnx'), opts);
  const ctx = f32([2, 77, 32], (i) => Math.sin(i * 0.1));
  const sample = f32([2, 4, 8, 8], (i) => Math.cos(i * 0.3));
  const both = (await unet.run({ sample, timestep: f32([2], () => 300), encoder_hidden_states: ctx })).out_sample.data as Float32Array;
  const half = 4 * 64;
  for (let b = 0; b < 2; b++) {
    const one = (
      await unet.run({
        sample: new ort.Tensor('float32', (sample.data as Float32Array).slice(b * half, (b + 1) * half), [1, 4, 8, 8]),
        timestep: f32([1], () => 300),
        encoder_hidden_states: new ort.Tensor('float32', (ctx.data as Float32Array).slice(b * 77 * 32, (b + 1) * 77 * 32), [1, 77, 32]),
      })
    ).out_sample.data as Float32Array;
    for (let i = 0; i < half; i++) assert.ok(Math.abs(one[i] - both[b * half + i]) < 1e-4, `row ${b} index ${i}`);
  }
});

test('controlnet residuals match the inputs of unet_controlnet', async () => {
  await ready;
  const cn = await ort.InferenceSession.create(join(dir, 'controlnet/model.onnx'), opts);
  const uc = await ort.InferenceSession.create(join(dir, 'unet_controlnet/model.onnx'), opts);
  const base = { sample: f32([1, 4, 8, 8], (i) => Math.sin(i)), timestep: f32([1], () => 700), encoder_hidden_states: f32([1, 77, 32], (i) => Math.cos(i)) };
  const res = await cn.run({
    ...base,
    controlnet_cond: f32([1, 3, 64, 64], (i) => (i % 64 > 32 ? 1 : 0)),
    conditioning_scale: new ort.Tensor('float32', Float32Array.of(1), []),
  });
  const down = cn.outputNames.filter((n) => n.startsWith('down_block_res_sample_'));
  const residualInputs = uc.inputNames.filter((n) => n.startsWith('down_block_additional_residual_'));
  assert.equal(down.length, residualInputs.length);
  const feeds: Record<string, ort.Tensor> = { ...base, mid_block_additional_residual: res.mid_block_res_sample };
  down.forEach((n, i) => {
    feeds[`down_block_additional_residual_${i}`] = res[n];
  });
  const withControl = (await uc.run(feeds)).out_sample.data as Float32Array;
  const unet = await ort.InferenceSession.create(join(dir, 'unet/model.onnx'), opts);
  const plain = (await unet.run(base)).out_sample.data as Float32Array;
  assert.ok(
    withControl.some((v, i) => Math.abs(v - plain[i]) > 1e-3),
    'residuals must change the output',
  );
  const zeroed: Record<string, ort.Tensor> = { ...feeds };
  for (const k of Object.keys(zeroed))
    if (k.includes('residual')) zeroed[k] = new ort.Tensor('float32', new Float32Array(zeroed[k].data.length), zeroed[k].dims);
  const zeroOut = (await uc.run(zeroed)).out_sample.data as Float32Array;
  zeroOut.forEach((v, i) => assert.ok(Math.abs(v - plain[i]) < 1e-5, 'zero residuals equal the plain UNet'));
});

test('same seed gives the same bytes, another seed different weights', async () => {
  await ready;
  const again = tmp();
  await generateModel({ preset: 'tiny', outDir: again, seed: 3 });
  const other = tmp();
  await generateModel({ preset: 'tiny', outDir: other, seed: 4, controlnet: false });
  for (const net of readdirSync(dir)) {
    if (!net.includes('.'))
      for (const f of readdirSync(join(dir, net))) assert.ok(readFileSync(join(dir, net, f)).equals(readFileSync(join(again, net, f))), `${net}/${f}`);
  }
  assert.ok(!readFileSync(join(dir, 'unet/model.onnx')).equals(readFileSync(join(other, 'unet/model.onnx'))));
});

test('external data: weights go to weights.pb and the model still loads', async () => {
  const { presets } = await import('../src/presets');
  const out = tmp();
  await generateModel({ preset: { ...presets.tiny, externalData: true }, outDir: out, seed: 3, controlnet: false });
  const unetFiles = readdirSync(join(out, 'unet'));
  assert.ok(unetFiles.includes('weights.pb'));
  assert.ok(readFileSync(join(out, 'unet/model.onnx')).length < readFileSync(join(dir, 'unet/model.onnx')).length / 4);
  const s = await ort.InferenceSession.create(join(out, 'unet/model.onnx'), opts);
  const a = await s.run({ sample: f32([1, 4, 8, 8], (i) => Math.sin(i)), timestep: f32([1], () => 10), encoder_hidden_states: f32([1, 77, 32], () => 0.1) });
  const b = await (
    await ort.InferenceSession.create(join(dir, 'unet/model.onnx'), opts)
  ).run({ sample: f32([1, 4, 8, 8], (i) => Math.sin(i)), timestep: f32([1], () => 10), encoder_hidden_states: f32([1, 77, 32], () => 0.1) });
  assert.deepEqual(a.out_sample.data, b.out_sample.data);
});

test('listLinearModules names exactly the MatMul nodes fed by onnx::MatMul_ weights', async () => {
  await ready;
  const { listLinearModules } = await import('../src/index');
  const { onnx } = await import('@farm/engine/onnx-proto');
  for (const net of ['unet', 'text_encoder'] as const) {
    const model = onnx.ModelProto.decode(readFileSync(join(dir, net, 'model.onnx')));
    const fromGraph = model
      .graph!.node!.filter((n) => n.opType === 'MatMul' && n.input!.some((i) => i.startsWith('onnx::MatMul_')))
      .map((n) =>
        n
          .name!.replace(/^\//, '')
          .replace(/\/MatMul$/, '')
          .replace(/\//g, '.'),
      );
    assert.deepEqual(listLinearModules('tiny', net), fromGraph, net);
  }
  assert.ok(listLinearModules('tiny', 'unet').includes('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'));
});

test('fp16 weight storage: float16 initializers, float32 IO, output close to the float32 model', async () => {
  await ready;
  const out = tmp();
  await generateModel({ preset: 'tiny', outDir: out, seed: 3, controlnet: false, fp16Weights: true });
  assert.ok(readFileSync(join(out, 'unet/model.onnx')).length < readFileSync(join(dir, 'unet/model.onnx')).length * 0.6);
  const feeds = { sample: f32([1, 4, 8, 8], (i) => Math.sin(i)), timestep: f32([1], () => 10), encoder_hidden_states: f32([1, 77, 32], (i) => Math.cos(i)) };
  const half = (await (await ort.InferenceSession.create(join(out, 'unet/model.onnx'), opts)).run(feeds)).out_sample.data as Float32Array;
  const full = (await (await ort.InferenceSession.create(join(dir, 'unet/model.onnx'), opts)).run(feeds)).out_sample.data as Float32Array;
  const err = Math.sqrt(half.reduce((s, v, i) => s + (v - full[i]) ** 2, 0) / full.reduce((s, v) => s + v * v, 0));
  assert.ok(err > 0 && err < 0.02, `relative error ${err}`);
});

test('tiny-taiyi: a BertModel text encoder (input_ids, attention_mask, token_type_ids) and a WordPiece vocab.txt with Chinese characters', async () => {
  const out = tmp();
  await generateModel({ preset: 'tiny-taiyi', outDir: out, seed: 3, controlnet: false });
  const vocab = readFileSync(join(out, 'tokenizer/vocab.txt'), 'utf8').split('\n').filter(Boolean);
  assert.equal(vocab.length, 1024);
  assert.deepEqual([vocab[0], vocab[100], vocab[101], vocab[102], vocab[103]], ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  for (const ch of '飞流直下三千尺油画，') assert.ok(vocab.includes(ch), ch);
  assert.equal(JSON.parse(readFileSync(join(out, 'tokenizer/tokenizer_config.json'), 'utf8')).tokenizer_class, 'BertTokenizer');
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'model_index.json'), 'utf8')).tokenizer, ['transformers', 'BertTokenizer']);
  const te = await ort.InferenceSession.create(join(out, 'text_encoder/model.onnx'), opts);
  assert.deepEqual(
    meta(te, 'inputMetadata').map((m) => m.name),
    ['input_ids', 'attention_mask', 'token_type_ids'],
  );
  const i32 = (n: number, f: (i: number) => number) =>
    new ort.Tensor(
      'int32',
      Int32Array.from({ length: n }, (_, i) => f(i)),
      [1, n],
    );
  const ids = (i: number) => (i === 0 ? 101 : i < 10 ? 300 + i * 7 : 0);
  // BERT semantics: with padding masked out, the first 10 states of a 77-token run equal a 10-token run
  // (positions are sliced from the table, the mask removes the padding from every attention)
  const short = (await te.run({ input_ids: i32(10, ids), attention_mask: i32(10, () => 1), token_type_ids: i32(10, () => 0) })).last_hidden_state;
  const masked = await te.run({ input_ids: i32(77, ids), attention_mask: i32(77, (i) => (i < 10 ? 1 : 0)), token_type_ids: i32(77, () => 0) });
  assert.deepEqual(masked.last_hidden_state.dims, [1, 77, 32]);
  assert.deepEqual(masked.pooler_output.dims, [1, 32]);
  const a = short.data as Float32Array;
  const b = masked.last_hidden_state.data as Float32Array;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `state ${i}`);
  // attending to the padding, or another segment id, changes the states
  const open = (await te.run({ input_ids: i32(77, ids), attention_mask: i32(77, () => 1), token_type_ids: i32(77, () => 0) })).last_hidden_state
    .data as Float32Array;
  const typed = (await te.run({ input_ids: i32(77, ids), attention_mask: i32(77, () => 1), token_type_ids: i32(77, () => 1) })).last_hidden_state
    .data as Float32Array;
  assert.ok(open.some((v, i) => i < a.length && Math.abs(v - b[i]) > 1e-3));
  assert.ok(typed.some((v, i) => Math.abs(v - open[i]) > 1e-3));
  // post-LN: every state is the output of a LayerNorm, so it is finite and bounded
  assert.ok(open.every((v) => Number.isFinite(v) && Math.abs(v) < 20));
});

test("the VAE encoder downsamples as SD's VAE does: stride 2, padded right and bottom only; the UNet pads every side", async () => {
  await ready;
  const { onnx } = await import('@farm/engine/onnx-proto');
  const pads = (net: string, node: string) =>
    onnx.ModelProto.decode(readFileSync(join(dir, net, 'model.onnx')))
      .graph!.node!.find((n) => n.name === node)!
      .attribute!.find((a) => a.name === 'pads')!
      .ints!.map(Number);
  assert.deepEqual(pads('vae_encoder', '/encoder/down_blocks.0/downsamplers.0/conv/Conv'), [0, 0, 1, 1]);
  assert.deepEqual(pads('unet', '/down_blocks.0/downsamplers.0/conv/Conv'), [1, 1, 1, 1]);
});
