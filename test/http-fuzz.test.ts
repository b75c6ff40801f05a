// Random and mutated requests against the HTTP endpoints of a real gateway: always 2xx or 4xx with a message,
// never a 500, and the gateway keeps answering.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startRedis, ensureTinyModel, type RedisServer } from '@farm/testkit';
import { farmEnv, startGatewayProcess, client, type Proc } from './helpers/farm';

let redis: RedisServer;
let gateway: Proc & { url: string };

beforeAll(async () => {
  redis = await startRedis();
  const { modelsDir } = await ensureTinyModel();
  gateway = await startGatewayProcess(farmEnv({ redisUrl: redis.url, modelsDir }));
});
afterAll(async () => {
  await gateway?.kill();
  await redis?.stop();
});

const valid = { prompt: 'a cat', width: 64, height: 64, steps: 4, seed: 1 };
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);
const field = fc.constantFrom(
  'prompt',
  'negative_prompt',
  'width',
  'height',
  'steps',
  'seed',
  'cfg_scale',
  'sampler',
  'sampler_name',
  'model',
  'batch_size',
  'n_iter',
  'init_image',
  'init_images',
  'loras',
  'webhook',
  'denoising_strength',
  'controlnet',
  'override_settings',
  'alwayson_scripts',
);

async function expectHandled(res: { status: number; body: any }, what: string) {
  assert.ok(res.status < 500, `${what} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`);
  if (res.status >= 400 && res.status !== 401) {
    const message = res.body?.error?.message ?? (Array.isArray(res.body?.detail) ? res.body.detail[0]?.msg : res.body?.detail);
    assert.ok(typeof message === 'string' && message.length > 0, `${what}: no message in ${JSON.stringify(res.body).slice(0, 200)}`);
  }
}

test('mutated bodies on the native and A1111 endpoints never give a 500', async () => {
  const alice = client(gateway.url);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/v1/jobs', '/sdapi/v1/txt2img', '/sdapi/v1/img2img', '/sdapi/v1/png-info', '/sdapi/v1/options', '/controlnet/detect'),
      field,
      value,
      async (path, f, v) => {
        // generation calls on /sdapi wait for a worker; with none running, only their validation is exercised here
        if (path.startsWith('/sdapi/v1/') && path.endsWith('2img')) {
          const body = { ...valid, [f]: v, width: 70 };
          await expectHandled(await alice.post(path, body), `${path} ${f}=${JSON.stringify(v)}`);
          return;
        }
        await expectHandled(await alice.post(path, { ...valid, [f]: v }), `${path} ${f}=${JSON.stringify(v)}`);
      },
    ),
    { numRuns: 150 },
  );
});

test('raw garbage bodies and odd content types never give a 500', async () => {
  const alice = client(gateway.url);
  await fc.assert(
    fc.asyncProperty(
      fc.string({ maxLength: 200 }),
      fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
      async (raw, type) => {
        const res = await fetch(`${gateway.url}/v1/jobs`, { method: 'POST', headers: { authorization: alice.auth, 'content-type': type }, body: raw });
        const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
        await expectHandled({ status: res.status, body }, `raw ${JSON.stringify(raw).slice(0, 40)}`);
      },
    ),
    { numRuns: 100 },
  );
  const huge = await alice.post('/v1/jobs', { ...valid, prompt: 'x'.repeat(1_000_000) });
  assert.equal(huge.status, 422);
  const tooBig = await fetch(`${gateway.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: alice.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ...valid, init_image: 'A'.repeat(30 * 1024 * 1024) }),
  });
  assert.equal(tooBig.status, 413);
  assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
});

test('random query strings on the read routes never give a 500', async () => {
  const alice = client(gateway.url);
  const created = await alice.post('/v1/jobs', valid);
  assert.equal(created.status, 202);
  const queryValue = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('1.5', '1e300', 'Infinity', '-1', 'NaN', '0x10', '', '9'.repeat(30), '%00', '[]'),
    fc.integer().map(String),
    fc.double().map(String),
  );
  const query = fc
    .array(fc.tuple(fc.constantFrom('limit', 'offset', 'id', 'x', 'limit[]', 'offset[a]'), queryValue), { maxLength: 4 })
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k).replace('%5B', '[').replace('%5D', ']')}=${encodeURIComponent(v)}`).join('&'));
  const path = fc.constantFrom(
    '/v1/jobs',
    `/v1/jobs/${created.body.id}`,
    '/sdapi/v1/progress',
    '/sdapi/v1/options',
    '/v1/models',
    `/v1/images/${created.body.id}/0.png`,
    '/sdapi/v1/sd-models',
  );
  await fc.assert(
    fc.asyncProperty(path, query, async (p, q) => {
      await expectHandled(await alice.get(`${p}?${q}`), `GET ${p}?${q}`);
    }),
    { numRuns: 150 },
  );
  await alice.del(`/v1/jobs/${created.body.id}`);
});

test('random A1111 script args (alwayson_scripts, script_name/script_args) never give a 500', async () => {
  const alice = client(gateway.url);
  const unitKey = fc.constantFrom(
    'image',
    'input_image',
    'module',
    'model',
    'weight',
    'guidance_start',
    'guidance_end',
    'threshold_a',
    'threshold_b',
    'enabled',
    'processor_res',
    'control_mode',
    'resize_mode',
  );
  const unit = fc.oneof(value, fc.dictionary(unitKey, value, { maxKeys: 5 }));
  const script = fc.oneof(value, fc.record({ args: fc.oneof(value, fc.array(unit, { maxLength: 3 })) }, { requiredKeys: [] }));
  const scripts = fc.dictionary(fc.constantFrom('controlnet', 'ControlNet', 'adetailer', 'x', ''), script, { maxKeys: 2 });
  await fc.assert(
    fc.asyncProperty(
      scripts,
      fc.oneof(fc.constant(undefined), value),
      fc.oneof(fc.constant(undefined), value, fc.array(value, { maxLength: 3 })),
      async (alwayson_scripts, script_name, script_args) => {
        // width 70 keeps every request short of a queued job (no worker runs here): all of the script handling runs first
        for (const path of ['/sdapi/v1/txt2img', '/sdapi/v1/img2img']) {
          const res = await alice.post(path, {
            ...valid,
            width: 70,
            alwayson_scripts,
            ...(script_name === undefined ? {} : { script_name }),
            ...(script_args === undefined ? {} : { script_args }),
          });
          await expectHandled(res, `${path} ${JSON.stringify({ alwayson_scripts, script_name, script_args }).slice(0, 200)}`);
        }
      },
    ),
    { numRuns: 100 },
  );
});
