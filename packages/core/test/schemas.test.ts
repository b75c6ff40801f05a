// Property-based: random and mutated requests never crash validation; they resolve or raise a FarmError with a message.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FarmError, parseJobRequest, parseA1111, loadConfig, ConfigError, type Catalog } from '../src/index';

const catalog: Catalog = {
  models: ['tiny'],
  loras: ['style'],
  checkSampler: (s) => {
    if (!['Euler a', 'Euler', 'DDIM'].includes(s)) throw new FarmError('unknown_sampler', 422, `unknown sampler "${s}"`);
  },
};
const limits = { maxPixels: 1024 * 1024, maxSteps: 150, maxImagesPerRequest: 16 };
const valid = { prompt: 'a cat', width: 64, height: 64, steps: 10, seed: 3 };

const fieldValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(Number.NaN),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.anything()),
);
const fields = [
  'prompt',
  'negative_prompt',
  'width',
  'height',
  'steps',
  'seed',
  'cfg_scale',
  'sampler',
  'model',
  'batch_size',
  'n_iter',
  'init_image',
  'loras',
  'webhook',
  'denoising_strength',
  'controlnet',
  'priority',
];

function outcome(fn: () => unknown): 'ok' | 'rejected' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof FarmError, `not a FarmError: ${String(e)}`);
    assert.ok(e.status >= 400 && e.status < 500, `status ${e.status}`);
    assert.ok(e.message.length > 0);
    return 'rejected';
  }
}

test('native requests: any mutation of a valid body resolves or gives a 4xx with a message', () => {
  fc.assert(
    fc.property(fc.constantFrom(...fields), fieldValue, (field, value) => {
      outcome(() => parseJobRequest({ ...valid, [field]: value }, limits, catalog));
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.anything(), (body) => {
      outcome(() => parseJobRequest(body, limits, catalog));
    }),
    { numRuns: 300 },
  );
});

test('a resolved request always satisfies the limits and has a concrete seed', () => {
  fc.assert(
    fc.property(
      fc.record({
        width: fc.integer({ min: 8, max: 4096 }),
        height: fc.integer({ min: 8, max: 4096 }),
        steps: fc.integer({ min: -5, max: 400 }),
        seed: fc.integer({ min: -1, max: 2 ** 32 }),
      }),
      (r) => {
        try {
          const { params } = parseJobRequest({ ...valid, ...r }, limits, catalog);
          assert.ok(params.width % 8 === 0 && params.height % 8 === 0 && params.width * params.height <= limits.maxPixels);
          assert.ok(params.steps >= 1 && params.steps <= limits.maxSteps);
          assert.ok(params.seed >= 0 && params.seed <= 0xffffffff);
        } catch (e) {
          assert.ok(e instanceof FarmError && e.status === 422);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('A1111 requests: mutations give results or FastAPI-shaped 422 details', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('prompt', 'steps', 'width', 'seed', 'sampler_name', 'override_settings', 'alwayson_scripts', 'init_images', 'cfg_scale', 'batch_size'),
      fieldValue,
      fc.constantFrom('txt2img' as const, 'img2img' as const),
      (field, value, kind) => {
        try {
          parseA1111(kind, { ...valid, init_images: ['AAAA'], [field]: value }, { limits, catalog, options: {}, styles: [] });
        } catch (e) {
          // 422 for validation; A1111's own HTTPExceptions: 400 "Sampler not found", 404 "Init image not found"
          assert.ok(
            e instanceof FarmError && (e.status === 422 || (e.status === 400 && field === 'sampler_name') || (e.status === 404 && field === 'init_images')),
            String(e),
          );
          const detail = (e as { detail?: { loc: unknown[]; msg: string }[] }).detail;
          if (Array.isArray(detail)) assert.ok(detail.length > 0 && detail[0].loc[0] === 'body' && detail[0].msg.length > 0);
          else assert.ok(e.message.length > 0);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('unicode and control characters in prompts are kept', () => {
  const prompt = 'ein Hündchen 🐶 猫\u0000\u0007\tend';
  assert.equal(parseJobRequest({ ...valid, prompt }, limits, catalog).params.prompt, prompt);
});

test('configuration: bad values stop the boot with a message naming the variable', () => {
  assert.throws(
    () => loadConfig({ PORT: 'eighty' }),
    (e: unknown) => e instanceof ConfigError && /PORT/.test((e as Error).message),
  );
  assert.throws(() => loadConfig({ EXECUTION_PROVIDERS: 'cpu,quantum' }), /quantum/);
  assert.throws(() => loadConfig({ STORAGE: 'floppy' }), /STORAGE/);
  const c = loadConfig({ PORT: '9000', EXECUTION_PROVIDERS: 'cuda, cpu', S3_FORCE_PATH_STYLE: 'true' });
  assert.equal(c.PORT, 9000);
  assert.deepEqual(c.EXECUTION_PROVIDERS, ['cuda', 'cpu']);
  assert.equal(c.S3_FORCE_PATH_STYLE, true);
  assert.equal(loadConfig({}).MAX_BATCH, 4);
});
