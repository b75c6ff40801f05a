// The session cache under a byte budget: sizes read from the model files, LoRA sessions out first, a model's base
// pinned, a running job's sessions held, a LoRA set that cannot fit refused (never past the budget).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationParams } from '@farm/core';
import { ensureTinyLoras } from '@farm/testkit';
import { Engine } from '../src/index';
import { onnx } from '../src/onnx/onnx-proto';
import { SessionCache, SessionBudgetError } from '../src/onnx/session-cache';
import { planEviction, type CacheEntryInfo } from '../src/onnx/eviction';
import { modelFileBytes } from '../src/onnx/session-bytes';

/** out = x + w, w a float32 initializer of `n` values (inline, or external in weights.bin beside the file). */
function addModel(n: number, external?: { withLength: boolean }): Uint8Array {
  const value = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: n }] } } } });
  const w: onnx.ITensorProto = external
    ? {
        name: 'w',
        dataType: 1,
        dims: [n],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: 'weights.bin' },
          { key: 'offset', value: '0' },
          ...(external.withLength ? [{ key: 'length', value: String(4 * n) }] : []),
        ],
      }
    : { name: 'w', dataType: 1, dims: [n], rawData: new Uint8Array(new Float32Array(n).fill(1).buffer) };
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'] }], initializer: [w], input: [value('x')], output: [value('y')] },
  }).finish();
}

const entry = (key: string, bytes: number, kind: CacheEntryInfo['kind'], group = '', busy = false): CacheEntryInfo => ({ key, bytes, kind, group, busy });

test("eviction plan: LoRA sessions first (oldest first), then variants; bases only for another model's base", () => {
  const entries = [entry('baseA', 50, 'base', 'A'), entry('var', 10, 'variant'), entry('lora1', 20, 'lora', 'A'), entry('lora2', 20, 'lora', 'A')];
  // 100 held, budget 120: 25 more needs 5 freed -> the oldest LoRA session
  assert.deepEqual(planEviction(entries, { bytes: 25, kind: 'lora', group: 'A' }, 120), { evict: ['lora1'] });
  // 55 more needs 35 freed: both LoRA sessions (40), not the variant
  assert.deepEqual(planEviction(entries, { bytes: 55, kind: 'lora', group: 'A' }, 120), { evict: ['lora1', 'lora2'] });
  // 65 more needs 45: both LoRAs and the variant (50); A's base stays
  assert.deepEqual(planEviction(entries, { bytes: 65, kind: 'lora', group: 'A' }, 120), { evict: ['lora1', 'lora2', 'var'] });
  // 71 more needs 51: only the base could give it, and a LoRA set never unpins a base
  assert.ok('refused' in planEviction(entries, { bytes: 71, kind: 'lora', group: 'A' }, 120));
  // model B's base may take A's base, after everything else
  assert.deepEqual(planEviction(entries, { bytes: 71, kind: 'base', group: 'B' }, 120), { evict: ['lora1', 'lora2', 'var', 'baseA'] });
  // ... but A's own next network never takes A's base
  assert.ok('refused' in planEviction(entries, { bytes: 71, kind: 'base', group: 'A' }, 120));
  // busy entries stay whatever their kind
  assert.deepEqual(planEviction([entry('l1', 20, 'lora', 'A', true), entry('l2', 20, 'lora', 'A')], { bytes: 20, kind: 'lora', group: 'A' }, 40), {
    evict: ['l2'],
  });
  assert.ok('refused' in planEviction([], { bytes: 41, kind: 'base', group: 'A' }, 40));
  assert.deepEqual(planEviction([entry('l1', 20, 'lora')], { bytes: 20, kind: 'lora', group: 'A' }, 40), { evict: [] });
});

test("a model file's weight bytes include the external data it uses", () => {
  const dir = mkdtempSync(join(tmpdir(), 'session-bytes-'));
  const inline = addModel(1000);
  writeFileSync(join(dir, 'inline.onnx'), inline);
  assert.equal(modelFileBytes(join(dir, 'inline.onnx')), inline.byteLength);
  assert.ok(inline.byteLength > 4000);
  for (const withLength of [true, false]) {
    const graph = addModel(1000, { withLength });
    writeFileSync(join(dir, 'external.onnx'), graph);
    assert.ok(graph.byteLength < 1000);
    // the 1000 float32 values (4000 bytes) live in weights.bin; the graph file holds none of them
    assert.equal(modelFileBytes(join(dir, 'external.onnx')), graph.byteLength + 4000);
    // a file past the decode limit is taken as all inline
    assert.equal(modelFileBytes(join(dir, 'external.onnx'), 10), graph.byteLength);
  }
});

test("session cache evicts by bytes, keeps a model's base pinned, holds a running job's sessions", async () => {
  const small = addModel(1000);
  const size = small.byteLength;
  const cache = new SessionCache({ maxBytes: 3 * size });
  const base = await cache.get('A|unet', () => small, { kind: 'base', group: 'A' });
  await cache.get('A|unet|lora=1', () => addModel(1000), { kind: 'lora', group: 'A' });
  await cache.get('A|unet|lora=2', () => addModel(1000), { kind: 'lora', group: 'A' });
  assert.equal(cache.bytes, 3 * size);
  let disposed = 0;
  await cache.get('A|unet|lora=3', () => addModel(1000), { kind: 'lora', group: 'A', dispose: () => disposed++ });
  assert.deepEqual(
    cache.list().map((e) => e.key),
    ['A|unet', 'A|unet|lora=2', 'A|unet|lora=3'],
  );
  assert.equal(await cache.get('A|unet', () => small), base, 'the base is the same session');
  // a running job holds what it fetched: lora=2 and lora=3 cannot go, and the base is pinned, so lora=4 is refused
  await cache.job(async () => {
    await cache.get('A|unet|lora=2', () => addModel(1000));
    await cache.get('A|unet|lora=3', () => addModel(1000));
    await assert.rejects(
      cache.get('A|unet|lora=4', () => addModel(1000), { kind: 'lora', group: 'A' }),
      SessionBudgetError,
    );
  });
  assert.ok(cache.bytes <= 3 * size);
  // the job over, lora=2 (least recently used) makes room
  await cache.get('A|unet|lora=4', () => addModel(1000), { kind: 'lora', group: 'A' });
  assert.deepEqual(
    cache
      .list()
      .map((e) => e.key)
      .sort(),
    ['A|unet', 'A|unet|lora=3', 'A|unet|lora=4'],
  );
  // a session bigger than the budget is refused outright
  await assert.rejects(
    cache.get('huge', () => addModel(4000)),
    (e: unknown) => e instanceof SessionBudgetError && /SESSION_CACHE_BYTES/.test((e as Error).message),
  );
  // another model's base takes the LoRA sessions, then A's base
  await cache.get('B|unet', () => addModel(1000), { kind: 'base', group: 'B' });
  await cache.get('B|vae', () => addModel(1000), { kind: 'base', group: 'B' });
  assert.deepEqual(
    cache
      .list()
      .map((e) => e.key)
      .sort(),
    ['A|unet', 'B|unet', 'B|vae'],
  );
  await cache.get('B|text', () => addModel(1000), { kind: 'base', group: 'B' });
  assert.deepEqual(
    cache
      .list()
      .map((e) => e.key)
      .sort(),
    ['B|text', 'B|unet', 'B|vae'],
  );
  assert.equal(disposed, 1, 'the evicted lora=3 ran its dispose');
  await cache.close();
  assert.equal(cache.bytes, 0);
});

test('LoRA sets on a model under a tight budget: never past it, the base stays, an untouched network is the base session', async () => {
  const { modelsDir, loraDir } = await ensureTinyLoras();
  const model = join(modelsDir, 'tiny');
  const net = (sub: string) => modelFileBytes(join(model, sub, 'model.onnx'));
  const base = net('unet') + net('text_encoder') + net('vae_decoder');
  // room for the base and one merged UNet + text encoder, not two
  const budget = base + net('unet') + net('text_encoder') + 1024;
  const engine = new Engine({ modelsDir, loraDir, maxPixels: 1 << 20, maxSteps: 50, sessionCacheBytes: budget });
  const params: GenerationParams = {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a red castle',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 2,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 3,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
  };
  const sets = [
    [{ name: 'tiny-style-kohya', weight: 0.5 }],
    [{ name: 'tiny-style-kohya', weight: 0.9 }],
    [{ name: 'tiny-detail-diffusers', weight: 0.7 }],
    [
      { name: 'tiny-style-kohya', weight: 0.3 },
      { name: 'tiny-detail-diffusers', weight: 0.3 },
    ],
  ];
  await engine.generate([{ id: 'plain', params }]);
  for (const loras of sets) {
    await engine.generate([{ id: 'x', params: { ...params, loras } }]);
    assert.ok(engine.cache.bytes <= budget, `${engine.cache.bytes} <= ${budget}`);
    const keys = engine.cache.list().map((e) => e.key);
    for (const sub of ['unet', 'text_encoder', 'vae_decoder']) assert.ok(keys.includes(`${model}|${sub}|model.onnx`), `${sub} base pinned: ${keys.join(', ')}`);
    // one merged set at a time; the diffusers-style LoRA touches the UNet only, so its text encoder is the base session
    const merged = engine.cache
      .list()
      .filter((e) => e.kind === 'lora')
      .map((e) => e.key.slice(model.length + 1).split('|')[0]);
    assert.deepEqual(merged.sort(), loras.some((l) => l.name === 'tiny-style-kohya') ? ['text_encoder', 'unet'] : ['unet']);
  }
  await engine.close();
});
