// Models the way users bring them, through HTTP: a single-file LDM checkpoint, a diffusers folder and the
// Taiyi-shaped Chinese model (a diffusers folder with a BERT text encoder) dropped into MODELS_DIR are listed, picked
// by override_settings.sd_model_checkpoint or `model`, converted once on first use, and render the same pixels as
// the generated models they were written from. Pickles are listed nowhere and refused by name.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generateModel, writeDiffusersFolder, writeLdmCheckpoint } from '@farm/modelgen';
import { readPngText } from '@farm/engine/png';
import { startRedis, type RedisServer } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, client, waitFor, type Proc } from './helpers/farm';

let redis: RedisServer;
let gateway: Proc & { url: string };
let worker: Proc;
let modelsDir: string;

beforeAll(async () => {
  redis = await startRedis();
  modelsDir = mkdtempSync(join(tmpdir(), 'dropin-models-'));
  await generateModel({ preset: 'tiny', outDir: join(modelsDir, 'tiny'), seed: 1, controlnet: false });
  await generateModel({ preset: 'tiny-taiyi', outDir: join(modelsDir, 'tiny-taiyi'), seed: 1, controlnet: false });
  writeLdmCheckpoint(join(modelsDir, 'civitai-style.safetensors'), { preset: 'tiny', seed: 1, ema: true });
  writeDiffusersFolder(join(modelsDir, 'hub-style'), { preset: 'tiny', seed: 1, dtype: 'F32' });
  writeDiffusersFolder(join(modelsDir, 'taiyi-zh'), { preset: 'tiny-taiyi', seed: 1 });
  writeFileSync(join(modelsDir, 'old-model.ckpt'), 'PK\u0003\u0004 a pickle, never opened');
  const farm = farmEnv({ redisUrl: redis.url, modelsDir });
  gateway = await startGatewayProcess(farm);
  worker = startWorkerProcess(farm);
  // /readyz answers 200 before any worker reports; A1111 calls need one that has
  await waitFor('a live worker', async () => ((await (await fetch(`${gateway.url}/readyz`)).json()) as { workers?: number }).workers! > 0, 90_000);
});
afterAll(async () => {
  await worker?.kill();
  await gateway?.kill();
  await redis?.stop();
});

const small = { negative_prompt: 'blurry', width: 64, height: 64, steps: 4, seed: 77, sampler_name: 'Euler', cfg_scale: 7 };
const pixels = (b64: string) => sharp(Buffer.from(b64, 'base64')).raw().toBuffer();

/** The PNG without its text chunks: the image data sharp wrote. */
function withoutText(png: Buffer): Buffer {
  const parts = [png.subarray(0, 8)];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type !== 'tEXt' && type !== 'iTXt') parts.push(png.subarray(at, at + 12 + length));
    at += 12 + length;
  }
  return Buffer.concat(parts);
}

test("the web page's list (/v1/models) and /sdapi/v1/sd-models show the dropped-in models; the pickle is not among them", async () => {
  const alice = client(gateway.url);
  const expected = ['civitai-style', 'hub-style', 'taiyi-zh', 'tiny', 'tiny-taiyi'];
  assert.deepEqual((await alice.get('/v1/models')).body.models, expected);
  await waitFor('the worker to advertise the same list', async () => {
    const names = (await alice.get('/sdapi/v1/sd-models')).body.map((m: { model_name: string }) => m.model_name);
    return JSON.stringify(names) === JSON.stringify(expected);
  });
});

test('an LDM .safetensors picked by override_settings.sd_model_checkpoint renders the pixels of the model it came from', async () => {
  const alice = client(gateway.url);
  const original = await alice.post('/sdapi/v1/txt2img', {
    ...small,
    prompt: 'a lighthouse, (sunset:1.2)',
    override_settings: { sd_model_checkpoint: 'tiny' },
  });
  assert.equal(original.status, 200, JSON.stringify(original.body));
  const dropped = await alice.post('/sdapi/v1/txt2img', {
    ...small,
    prompt: 'a lighthouse, (sunset:1.2)',
    override_settings: { sd_model_checkpoint: 'civitai-style.safetensors' },
  });
  assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
  assert.equal(JSON.parse(dropped.body.info).sd_model_name, 'civitai-style');
  assert.ok((await pixels(dropped.body.images[0])).equals(await pixels(original.body.images[0])), 'same pixels');
  // the same PNG but for its infotext (model name and hash are the checkpoint's)
  const [a, b] = [original, dropped].map((r) => Buffer.from(r.body.images[0], 'base64'));
  assert.ok(withoutText(a).equals(withoutText(b)), 'same PNG image bytes');
  assert.match(readPngText(b).parameters, /Model: civitai-style/);
  // converted once, cached beside the models under the file's hash
  const converted = readdirSync(join(modelsDir, '.converted')).filter((n) => n.startsWith('civitai-style-'));
  assert.equal(converted.length, 1);
  assert.ok(existsSync(join(modelsDir, '.converted', converted[0], 'checkpoint.sha256')));
});

test('a diffusers folder picked on the native API renders the same image as the generated model', async () => {
  const alice = client(gateway.url);
  const submit = async (model: string) => {
    const created = await alice.post('/v1/jobs', { model, prompt: 'a red car', width: 64, height: 64, steps: 4, seed: 5, sampler: 'Euler a' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const job = await alice.waitForJob(created.body.id);
    assert.equal(job.status, 'succeeded', job.error);
    return (await alice.get(`/v1/images/${created.body.id}/0.png`)).body as Buffer;
  };
  const [dropped, original] = [await submit('hub-style'), await submit('tiny')];
  assert.ok((await sharp(dropped).raw().toBuffer()).equals(await sharp(original).raw().toBuffer()));
});

test('the Taiyi-shaped Chinese model (diffusers folder, BERT text encoder) renders 飞流直下三千尺，油画 as the generated one does', async () => {
  const alice = client(gateway.url);
  const prompt = '飞流直下三千尺，油画';
  const dropped = await alice.post('/sdapi/v1/txt2img', { ...small, prompt, override_settings: { sd_model_checkpoint: 'taiyi-zh' } });
  assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
  const original = await alice.post('/sdapi/v1/txt2img', { ...small, prompt, override_settings: { sd_model_checkpoint: 'tiny-taiyi' } });
  assert.ok((await pixels(dropped.body.images[0])).equals(await pixels(original.body.images[0])));
  const other = await alice.post('/sdapi/v1/txt2img', { ...small, prompt: '小桥流水人家', override_settings: { sd_model_checkpoint: 'taiyi-zh' } });
  assert.ok(!(await pixels(other.body.images[0])).equals(await pixels(dropped.body.images[0])), 'the Chinese prompt steers the image');
});

test('a pickle is refused by name, naming safetensors, and nothing is queued', async () => {
  const alice = client(gateway.url);
  const native = await alice.post('/v1/jobs', { model: 'old-model', prompt: 'x', width: 64, height: 64, steps: 2 });
  assert.equal(native.status, 422);
  assert.match(native.body.error.message, /old-model\.ckpt is a pickle.*never unpickled.*safetensors/);
  const a1111 = await alice.post('/sdapi/v1/txt2img', { ...small, prompt: 'x', override_settings: { sd_model_checkpoint: 'old-model.ckpt' } });
  assert.equal(a1111.status, 422);
  assert.match(JSON.stringify(a1111.body), /pickle.*safetensors/);
});
