// A1111 extras over HTTP against gateway + worker processes: /sdapi/v1/extra-single-image and extra-batch-images
// in A1111's shapes, each image an `extras` job in the caller's history; the native kind "extras"; 422s by name.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startRedis, ensureTinyModel, ensureTinyUpscaler, type RedisServer } from '@farm/testkit';
import { addPngText, readPngText } from '@farm/engine/png';
import { client, farmEnv, startGatewayProcess, startWorkerProcess, waitForWorkers, type Proc } from './helpers/farm';

let redis: RedisServer;
let gateway: Proc & { url: string };
let worker: Proc;
let upscaler: string;
beforeAll(async () => {
  redis = await startRedis();
  const { modelsDir } = await ensureTinyModel();
  const up = await ensureTinyUpscaler();
  upscaler = up.name;
  const config = farmEnv({ redisUrl: redis.url, modelsDir, env: { UPSCALERS_DIR: up.upscalersDir } });
  gateway = await startGatewayProcess(config);
  worker = startWorkerProcess(config);
  await waitForWorkers(gateway.url);
});
afterAll(async () => {
  await worker?.kill();
  await gateway?.kill();
  await redis?.stop();
});

async function pattern(w: number, h: number): Promise<Buffer> {
  const data = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    data[i * 3] = (i * 7) % 256;
    data[i * 3 + 1] = (i * 3) % 256;
    data[i * 3 + 2] = 90;
  }
  return sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}
const size = async (b64: string) => {
  const m = await sharp(Buffer.from(b64, 'base64')).metadata();
  return [m.width, m.height];
};

test("extra-single-image with Lanczos x2 returns twice the size, A1111's html_info, and the input's parameters", async () => {
  const alice = client(gateway.url);
  const png = addPngText(await pattern(48, 32), 'parameters', 'a castle\nSteps: 5, Seed: 1');
  const r = await alice.post('/sdapi/v1/extra-single-image', {
    image: `data:image/png;base64,${png.toString('base64')}`,
    upscaler_1: 'Lanczos',
    upscaling_resize: 2,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ['html_info', 'image']);
  assert.deepEqual(await size(r.body.image), [96, 64]);
  assert.equal(r.body.html_info, '<p>Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos</p>');
  const texts = readPngText(Buffer.from(r.body.image, 'base64'));
  assert.equal(texts.parameters, 'a castle\nSteps: 5, Seed: 1');
  assert.equal(texts.postprocessing, 'Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos');
  // the job is in alice's history as kind extras, with its output size
  const jobs = await alice.get('/v1/jobs?limit=5');
  const job = jobs.body.jobs.find((j: { input: { kind: string } }) => j.input.kind === 'extras');
  assert.ok(job, 'an extras job in the history');
  assert.equal(job.status, 'succeeded');
  assert.deepEqual([job.input.width, job.input.height, job.input.has_init_image], [96, 64, true]);
  // (progress per tile is the engine's test: the worker reports none for a batch that ends within its first interval)
});

test('extra-batch-images: a model upscaler on an image larger than one tile, and a second image, in order', async () => {
  const alice = client(gateway.url);
  const imageList = [
    { data: (await pattern(200, 16)).toString('base64'), name: 'wide.png' },
    { data: (await pattern(16, 24)).toString('base64'), name: 'small.png' },
  ];
  const r = await alice.post('/sdapi/v1/extra-batch-images', {
    imageList,
    upscaler_1: upscaler,
    resize_mode: 1,
    upscaling_resize_w: 400,
    upscaling_resize_h: 32,
    upscaling_crop: false,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ['html_info', 'images']);
  // scale max(400/200, 32/16) = 2 -> 400x32; the second: max(400/16, 32/24) = 25 -> 400x600
  assert.deepEqual(await size(r.body.images[0]), [400, 32]);
  assert.deepEqual(await size(r.body.images[1]), [400, 600]);
  assert.equal(r.body.html_info, `<p>Postprocess upscale to: 400x32, Postprocess upscaler: ${upscaler}</p>`);
});

test('fields the farm cannot honour, or cannot find, are 422s naming them; nothing is queued', async () => {
  const alice = client(gateway.url);
  const before = (await alice.get('/v1/jobs?limit=1')).body.total;
  const image = (await pattern(16, 16)).toString('base64');
  for (const [body, field] of [
    [{ image, gfpgan_visibility: 0.5 }, 'gfpgan_visibility'],
    [{ image, codeformer_visibility: 1 }, 'codeformer_visibility'],
    [{ image, upscaler_1: 'R-ESRGAN 4x+' }, 'upscaler_1'],
    [{ image, upscaler_1: 'Lanczos', upscaler_2: 'Latent' }, 'upscaler_2'],
    [{ image: 'not an image', upscaler_1: 'Lanczos' }, 'image'],
    [{ image, upscaler_1: 'Lanczos', upscaling_resize: 1000 }, 'upscaling_resize'],
    [{ image, resize_mode: 3 }, 'resize_mode'],
  ] as const) {
    const r = await alice.post('/sdapi/v1/extra-single-image', body);
    assert.equal(r.status, 422, `${field}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body.detail[0].loc, ['body', field]);
  }
  const batch = await alice.post('/sdapi/v1/extra-batch-images', { upscaler_1: 'Lanczos' });
  assert.deepEqual([batch.status, batch.body.detail[0].loc], [422, ['body', 'imageList']]);
  assert.equal((await alice.get('/v1/jobs?limit=1')).body.total, before, 'nothing was queued');
});

test('native kind "extras": 202, polled to its image; bad fields are 422 naming them', async () => {
  const alice = client(gateway.url);
  const r = await alice.post('/v1/jobs', { kind: 'extras', image: (await pattern(24, 16)).toString('base64'), upscaler_1: 'Nearest', upscaling_resize: 3 });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const job = await alice.waitForJob(r.body.id);
  assert.equal(job.status, 'succeeded', job.error);
  assert.equal(job.output.infotexts[0], 'Postprocess upscale by: 3.0, Postprocess upscaler: Nearest');
  const img = await alice.get(job.output.images[0]);
  assert.deepEqual(await size(img.body.toString('base64')), [72, 48]);
  const bad = await alice.post('/v1/jobs', { kind: 'extras', image: 'AAAA', upscaler_1: 'Lanczos', gfpgan_visibility: 0.2 });
  assert.deepEqual([bad.status, bad.body.error.field], [422, 'gfpgan_visibility']);
  const unknown = await alice.post('/v1/jobs', { kind: 'extras', image: 'AAAA', prompt: 'x' });
  assert.equal(unknown.status, 422);
});
