// What a model can run, checked at the gateway from the worker heartbeat: any multiple of 8 end to end; a UNet export
// whose upsamplers use fixed 2x scales (no skip-sized resize) advertises its size multiple, and a text encoder export
// without hidden states advertises that clip skip cannot apply; the gateway answers 422 naming the field and the
// model instead of queueing a job that would fail.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generateModel } from '@farm/modelgen';
import { onnx } from '@farm/engine/onnx-proto';
import { farmEnv, farmFixture, startGatewayProcess, startWorkerProcess, client, waitForWorkers, type Proc } from './helpers/farm';

const fx = farmFixture();
let gateway: Proc & { url: string };
const small = { prompt: 'a castle', steps: 2 };

/** Rewrites every skip-sized Resize of a UNet into a fixed 2x one, as an export traced without upsample_size has. */
function fixUpsamplingToScales(unetPath: string): number {
  const model = onnx.ModelProto.decode(readFileSync(unetPath));
  const scales = 'fixed_upsample_scales';
  model.graph!.initializer!.push(onnx.TensorProto.create({ name: scales, dims: [4], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1, 1, 2, 2] }));
  let changed = 0;
  for (const node of model.graph!.node!) {
    if (node.opType === 'Resize' && node.input![3]) {
      node.input = [node.input![0], '', scales];
      changed++;
    }
  }
  writeFileSync(unetPath, onnx.ModelProto.encode(model).finish());
  return changed;
}

// farmFixture's own `before` has to have run first: set up lazily from the first test
let started: Promise<void> | undefined;
const ready = () =>
  (started ??= (async () => {
    const modelsDir = mkdtempSync(join(tmpdir(), 'sizes-models-'));
    await generateModel({ preset: 'tiny', outDir: join(modelsDir, 'tiny'), seed: 1, controlnet: false });
    await generateModel({ preset: 'tiny', outDir: join(modelsDir, 'tiny-fixed'), seed: 1, controlnet: false });
    assert.equal(fixUpsamplingToScales(join(modelsDir, 'tiny-fixed/unet/model.onnx')), 1, 'the tiny UNet has one upsampler');
    // the same export without hidden_states outputs on its text encoder
    const te = join(modelsDir, 'tiny-fixed/text_encoder/model.onnx');
    const model = onnx.ModelProto.decode(readFileSync(te));
    model.graph!.output = model.graph!.output!.filter((o) => !o.name!.startsWith('hidden_states.'));
    writeFileSync(te, onnx.ModelProto.encode(model).finish());
    const farm = farmEnv({ redisUrl: fx.redis.url, modelsDir });
    gateway = await startGatewayProcess(farm);
    fx.procs.push(gateway, startWorkerProcess(farm));
    await waitForWorkers(gateway.url);
  })());

test('72x104 renders on a generated model through /sdapi/v1 and the native API', async () => {
  await ready();
  const alice = client(gateway.url);
  const r = await alice.post('/sdapi/v1/txt2img', { ...small, width: 72, height: 104, override_settings: { sd_model_checkpoint: 'tiny' } });
  assert.equal(r.status, 200);
  const meta = await sharp(Buffer.from(r.body.images[0], 'base64')).metadata();
  assert.deepEqual([meta.width, meta.height], [72, 104]);
});

test('a fixed-2x export: 72x104 is a 422 at the gateway naming the model, 80x112 renders', async () => {
  await ready();
  const alice = client(gateway.url);
  const refused = await alice.post('/sdapi/v1/txt2img', { ...small, width: 72, height: 112, override_settings: { sd_model_checkpoint: 'tiny-fixed' } });
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.deepEqual(refused.body.detail[0].loc, ['body', 'width']);
  assert.match(refused.body.detail[0].msg, /model "tiny-fixed" .* multiple of 16, got 72/);
  const native = await alice.post('/v1/jobs', { ...small, model: 'tiny-fixed', width: 80, height: 104 });
  assert.equal(native.status, 422, JSON.stringify(native.body));
  assert.equal(native.body.error.field, 'height');
  const ok = await alice.post('/sdapi/v1/txt2img', { ...small, width: 80, height: 112, override_settings: { sd_model_checkpoint: 'tiny-fixed' } });
  assert.equal(ok.status, 200);
});

test('clip skip: CLIP_stop_at_last_layers 2 renders with "Clip skip: 2"; on an export without hidden states it is a 422', async () => {
  await ready();
  const alice = client(gateway.url);
  const two = await alice.post('/sdapi/v1/txt2img', {
    ...small,
    width: 64,
    height: 64,
    override_settings: { sd_model_checkpoint: 'tiny', CLIP_stop_at_last_layers: 2 },
  });
  assert.equal(two.status, 200);
  const info = JSON.parse(two.body.info);
  assert.equal(info.clip_skip, 2);
  assert.match(info.infotexts[0], /Clip skip: 2/);
  const refused = await alice.post('/sdapi/v1/txt2img', {
    ...small,
    width: 64,
    height: 64,
    override_settings: { sd_model_checkpoint: 'tiny-fixed', CLIP_stop_at_last_layers: 2 },
  });
  assert.equal(refused.status, 422);
  assert.deepEqual(refused.body.detail[0].loc, ['body', 'override_settings', 'CLIP_stop_at_last_layers']);
  assert.match(refused.body.detail[0].msg, /model "tiny-fixed".*output_hidden_states=True/);
  const native = await alice.post('/v1/jobs', { ...small, model: 'tiny-fixed', width: 64, height: 64, clip_skip: 2 });
  assert.equal(native.status, 422);
  assert.equal(native.body.error.field, 'clip_skip');
});
