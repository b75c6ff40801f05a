// Any multiple of 8 end to end, and sizes a model cannot run refused at the gateway: a UNet export whose upsamplers
// use fixed 2x scales (no skip-sized resize) advertises its size multiple through the worker heartbeat, and the
// gateway answers 422 naming the field and the model instead of queueing a job that would fail.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generateModel } from '@farm/modelgen';
import { onnx } from '@farm/engine/onnx-proto';
import { startRedis, type RedisServer } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, client, waitFor, type Proc } from './helpers/farm';

let redis: RedisServer;
let gateway: Proc & { url: string };
let worker: Proc;
const small = { prompt: 'a castle', steps: 2 };

/** Rewrites every skip-sized Resize of a UNet into a fixed 2x one, as an export traced without upsample_size has. */
function fixUpsamplingToScales(unetPath: string): number {
  const model = onnx.ModelProto.decode(readFileSync(unetPath));
  const scales = 'fixed_upsample_scales';
  model.graph!.initializer!.push(onnx.TensorProto.create({ name: scales, dims: [4], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1, 1, 2, 2] }));
  let changed = 0;
  for (const node of model.graph!.node!) {
    if (node.opType === 'Resize' && node.input![3]) { node.input = [node.input![0], '', scales]; changed++; }
  }
  writeFileSync(unetPath, onnx.ModelProto.encode(model).finish());
  return changed;
}

before(async () => {
  redis = await startRedis();
  const modelsDir = mkdtempSync(join(tmpdir(), 'sizes-models-'));
  await generateModel({ preset: 'tiny', outDir: join(modelsDir, 'tiny'), seed: 1, controlnet: false });
  await generateModel({ preset: 'tiny', outDir: join(modelsDir, 'tiny-fixed'), seed: 1, controlnet: false });
  assert.equal(fixUpsamplingToScales(join(modelsDir, 'tiny-fixed/unet/model.onnx')), 1, 'the tiny UNet has one upsampler');
  const farm = farmEnv({ redisUrl: redis.url, modelsDir });
  gateway = await startGatewayProcess(farm);
  worker = startWorkerProcess(farm);
  await waitFor('a live worker', async () => (await fetch(`${gateway.url}/readyz`)).status === 200);
});
after(async () => {
  await worker?.kill();
  await gateway?.kill();
  await redis?.stop();
});

test('72x104 renders on a generated model through /sdapi/v1 and the native API', async () => {
  const alice = client(gateway.url);
  const r = await alice.post('/sdapi/v1/txt2img', { ...small, width: 72, height: 104, override_settings: { sd_model_checkpoint: 'tiny' } });
  assert.equal(r.status, 200);
  const meta = await sharp(Buffer.from(r.body.images[0], 'base64')).metadata();
  assert.deepEqual([meta.width, meta.height], [72, 104]);
});

test('a fixed-2x export: 72x104 is a 422 at the gateway naming the model, 80x112 renders', async () => {
  const alice = client(gateway.url);
  const refused = await alice.post('/sdapi/v1/txt2img', { ...small, width: 72, height: 112, override_settings: { sd_model_checkpoint: 'tiny-fixed' } });
  assert.equal(refused.status, 422);
  assert.deepEqual(refused.body.detail[0].loc, ['body', 'width']);
  assert.match(refused.body.detail[0].msg, /model "tiny-fixed" .* multiple of 16, got 72/);
  const native = await alice.post('/v1/jobs', { ...small, model: 'tiny-fixed', width: 80, height: 104 });
  assert.equal(native.status, 422);
  assert.equal(native.body.error.field, 'height');
  const ok = await alice.post('/sdapi/v1/txt2img', { ...small, width: 80, height: 112, override_settings: { sd_model_checkpoint: 'tiny-fixed' } });
  assert.equal(ok.status, 200);
});
