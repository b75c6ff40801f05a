// Bad input through HTTP, case by case, on the native and A1111 endpoints: a 4xx whose message names the problem,
// and nothing queued. The gateway runs without a worker, so a job that slipped through would stay visible.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { startRedis, ensureTinyModel, type RedisServer } from '@farm/testkit';
import { farmEnv, startGatewayProcess, client, type Proc } from './helpers/farm';

let redis: RedisServer;
let gateway: Proc & { url: string };

beforeAll(async () => {
  redis = await startRedis();
  const { modelsDir } = await ensureTinyModel();
  gateway = await startGatewayProcess(
    farmEnv({ redisUrl: redis.url, modelsDir, env: { BODY_LIMIT: '1mb', WEBHOOK_ALLOW_PRIVATE: 'false', WEBHOOK_ALLOWED_HOSTS: 'hooks.localhost' } }),
  );
});
afterAll(async () => {
  await gateway?.kill('SIGKILL');
  await redis?.stop();
});

function crc32(bytes: Buffer): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}
/** A valid PNG header declaring 40000 x 40000 RGB pixels (4.8 GB decoded) with a few bytes of data. */
function decompressionBomb(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(40_000, 0);
  ihdr.writeUInt32BE(40_000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(40_001 * 3 * 4))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const ok = { prompt: 'a cat', width: 64, height: 64, steps: 3 };
type Case = [name: string, body: unknown, status: number, message: RegExp];

async function cases(): Promise<{ native: Case[]; a1111: Case[]; a1111Img2img: Case[] }> {
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .png()
    .toBuffer();
  const noisy = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 37) % 256)), { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
  const images = {
    notBase64: '%%%not base64%%%',
    notAnImage: Buffer.from('just some text, not pixels').toString('base64'),
    truncated: noisy.subarray(0, Math.floor(noisy.length / 2)).toString('base64'),
    bomb: decompressionBomb().toString('base64'),
  };
  const native: Case[] = [
    ['malformed JSON', '{"prompt": ', 400, /not valid JSON/],
    ['prompt as a number', { ...ok, prompt: 42 }, 422, /prompt: .*expected string/i],
    ['steps as a word', { ...ok, steps: 'abc' }, 422, /steps: .*expected number/i],
    ['width as an object', { ...ok, width: { px: 64 } }, 422, /width: .*expected number/i],
    ['missing prompt', { width: 64 }, 422, /prompt/],
    ['width 0', { ...ok, width: 0 }, 422, /width/],
    ['negative height', { ...ok, height: -64 }, 422, /height/],
    ['width not a multiple of 8', { ...ok, width: 65 }, 422, /multiple of 8/],
    ['above MAX_PIXELS', { ...ok, width: 4096, height: 4096 }, 422, /exceeds the maximum of \d+ pixels/],
    ['steps 0', { ...ok, steps: 0 }, 422, /steps/],
    ['steps above MAX_STEPS', { ...ok, steps: 151 }, 422, /steps must be at most 150/],
    ['too many images', { ...ok, batch_size: 8, n_iter: 4 }, 422, /32 exceeds the maximum of 16 images per request/],
    ['cfg_scale "NaN"', { ...ok, cfg_scale: 'NaN' }, 422, /cfg_scale: .*expected number/i],
    ['cfg_scale null', { ...ok, cfg_scale: null }, 422, /cfg_scale/],
    ['cfg_scale 1e309 (Infinity)', `{"prompt":"a cat","cfg_scale":1e309}`, 422, /cfg_scale: Number must be finite/],
    ['seed above 2^32-1', { ...ok, seed: 2 ** 32 }, 422, /seed: Too big: expected number to be <=4294967295/],
    ['seed below -1', { ...ok, seed: -2 }, 422, /seed: Too small: expected number to be >=-1/],
    ['fractional seed', { ...ok, seed: 1.5 }, 422, /seed: .*expected int/i],
    ['init image not base64', { ...ok, init_image: images.notBase64 }, 422, /init_image is not base64/],
    ['init image not an image', { ...ok, init_image: images.notAnImage }, 422, /init_image is not an image/],
    ['truncated PNG', { ...ok, init_image: images.truncated }, 422, /init_image could not be decoded \(truncated or corrupt png\)/],
    ['decompression bomb', { ...ok, init_image: images.bomb }, 422, /init_image is 40000x40000, more than the 16777216 pixels accepted/],
    ['control image truncated', { ...ok, controlnet: [{ module: 'canny', image: images.truncated }] }, 422, /controlnet\[0\]\.image could not be decoded/],
    ['body above BODY_LIMIT', { ...ok, init_image: 'A'.repeat(1_200_000) }, 413, /BODY_LIMIT/],
    ['unknown model', { ...ok, model: 'sdxl' }, 422, /unknown model "sdxl"; available: tiny/],
    ['unknown sampler', { ...ok, sampler: 'Magic' }, 422, /unknown sampler "Magic"; available: .*Euler/],
    ['unknown LoRA', { ...ok, loras: [{ name: 'ghost', weight: 1 }] }, 422, /unknown LoRA "ghost"/],
    ['unknown LoRA in the prompt', { ...ok, prompt: 'a cat <lora:ghost:0.8>' }, 422, /unknown LoRA "ghost"/],
    ['unknown ControlNet module', { ...ok, controlnet: [{ module: 'depth', image: png.toString('base64') }] }, 422, /controlnet\.0\.module: .*"canny"/],
    ['prompt of 1 MB', { ...ok, prompt: 'x'.repeat(1_000_000) }, 422, /prompt: Too big: expected string to have <=100000 characters/],
    ['webhook file://', { ...ok, webhook: 'file:///etc/passwd' }, 422, /http/],
    ['webhook ftp://', { ...ok, webhook: 'ftp://example.com/hook' }, 422, /http/],
    ['webhook loopback', { ...ok, webhook: 'http://127.0.0.1/hook' }, 422, /webhook refused: .*(loopback|private)/],
    ['webhook private', { ...ok, webhook: 'http://10.0.0.1/hook' }, 422, /webhook refused/],
    ['webhook cloud metadata', { ...ok, webhook: 'http://169.254.169.254/latest/meta-data' }, 422, /webhook refused/],
    ['webhook IPv6 loopback', { ...ok, webhook: 'http://[::1]/hook' }, 422, /webhook refused/],
  ];
  const a1111: Case[] = [
    ['malformed JSON', '{"prompt": ', 400, /not valid JSON/],
    ['width not a multiple of 8', { ...ok, width: 65 }, 422, /multiple of 8/],
    ['cfg_scale "NaN"', { ...ok, cfg_scale: 'NaN' }, 422, /cfg_scale/],
    ['seed above 2^32-1', { ...ok, seed: 2 ** 32 }, 422, /seed/],
    ['unknown sampler', { ...ok, sampler_name: 'Magic' }, 400, /Sampler not found/],
    ['init image not an image', { ...ok, init_images: [images.notAnImage] }, 422, /init_images\[0\] is not an image/],
    ['truncated PNG', { ...ok, init_images: [images.truncated] }, 422, /init_images\[0\] could not be decoded/],
    ['decompression bomb', { ...ok, init_images: [images.bomb] }, 422, /40000x40000/],
  ];
  const withInit = (c: Case): Case =>
    typeof c[1] === 'object' && !('init_images' in (c[1] as object)) ? [c[0], { init_images: [png.toString('base64')], ...(c[1] as object) }, c[2], c[3]] : c;
  return { native, a1111, a1111Img2img: a1111.map(withInit) };
}

function messageOf(body: any): string {
  if (typeof body?.error?.message === 'string') return body.error.message;
  if (Array.isArray(body?.detail)) return body.detail.map((d: any) => `${(d.loc ?? []).join('.')}: ${d.msg}`).join('; ');
  return typeof body?.detail === 'string' ? body.detail : JSON.stringify(body);
}

test('bad input on /v1/jobs and /sdapi/v1/*2img: 4xx naming the problem, nothing queued, the gateway lives on', async () => {
  const alice = client(gateway.url);
  const { native, a1111, a1111Img2img } = await cases();
  const queuedBefore = (await alice.get('/v1/jobs')).body.total;
  const runs: [string, Case[]][] = [
    ['/v1/jobs', native],
    ['/sdapi/v1/txt2img', a1111.filter((c) => !/init image|PNG|bomb/.test(c[0]))],
    ['/sdapi/v1/img2img', a1111Img2img],
  ];
  for (const [path, table] of runs) {
    for (const [name, body, status, message] of table) {
      const res = await alice.post(path, body);
      assert.equal(res.status, status, `${path} ${name}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      assert.match(messageOf(res.body), message, `${path} ${name}`);
    }
  }
  assert.equal((await alice.get('/v1/jobs')).body.total, queuedBefore, 'no bad request left a job behind');
  assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
});

test('unicode and control characters in a prompt are accepted and kept exactly', async () => {
  const alice = client(gateway.url);
  const prompt = '猫 🐱 \u0000\u0007 e\u0301 \u202eRTL\u202c "quotes" <b>';
  const created = await alice.post('/v1/jobs', { ...ok, prompt, negative_prompt: '\t\n\r' });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const stored = (await alice.get(`/v1/jobs/${created.body.id}`)).body;
  assert.equal(stored.input.prompt, prompt);
  assert.equal(stored.input.negative_prompt, '\t\n\r');
  assert.equal((await alice.del(`/v1/jobs/${created.body.id}`)).body.status, 'canceled');
});

test('a webhook host on WEBHOOK_ALLOWED_HOSTS skips the private-address check; others do not', async () => {
  const alice = client(gateway.url);
  const created = await alice.post('/v1/jobs', { ...ok, webhook: 'http://hooks.localhost:9/done' });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  assert.equal((await alice.del(`/v1/jobs/${created.body.id}`)).body.status, 'canceled');
  assert.equal((await alice.post('/v1/jobs', { ...ok, webhook: 'http://localhost:9/done' })).status, 422, 'other loopback names stay refused');
});
