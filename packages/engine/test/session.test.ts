import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UnknownModelError } from '@farm/core';
import { onnx } from '../src/onnx/onnx-proto';
import { SessionCache, ProviderUnavailableError } from '../src/onnx/session-cache';
import { timestepTensor } from '../src/onnx/io';
import { ModelRegistry } from '../src/models/model-registry';

/** A one-node model: out = sample + timestep, with the timestep's dtype and shape as given. */
function addModel(timestepType: number, timestepDims: number[]): Uint8Array {
  const value = (name: string, type: number, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const nodes =
    timestepType === onnx.TensorProto.DataType.FLOAT
      ? [{ opType: 'Add', input: ['sample', 'timestep'], output: ['out_sample'] }]
      : [
          { opType: 'Cast', input: ['timestep'], output: ['t32'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
          { opType: 'Add', input: ['sample', 't32'], output: ['out_sample'] },
        ];
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: nodes, input: [value('sample', 1, [2]), value('timestep', timestepType, timestepDims)], output: [value('out_sample', 1, [2])] },
  }).finish();
}

test('session cache returns the same session per key and evicts the least recently used', async () => {
  const bytes = addModel(onnx.TensorProto.DataType.FLOAT, [1]);
  const cache = new SessionCache({ maxBytes: 2 * bytes.byteLength });
  const a = await cache.get('a', () => bytes);
  assert.equal(await cache.get('a', () => bytes), a);
  await cache.get('b', () => bytes);
  await cache.get('a', () => bytes);
  await cache.get('c', () => bytes);
  assert.ok(cache.has('a') && cache.has('c') && !cache.has('b'));
  await cache.close();
  await cache.close();
  assert.ok(!cache.has('a'));
});

test('a GPU provider missing from this build is a ProviderUnavailableError naming it', async (t) => {
  const cache = new SessionCache({ providers: ['cuda'] });
  let error: unknown = null;
  await cache
    .get('x', () => addModel(onnx.TensorProto.DataType.FLOAT, [1]))
    .catch((e) => {
      error = e;
    });
  if (error === null) {
    t.skip('this onnxruntime-node build has CUDA');
    await cache.close();
    return;
  }
  assert.ok(error instanceof ProviderUnavailableError, String(error));
  assert.match((error as Error).message, /cuda.*ONNXRUNTIME_NODE_INSTALL=cuda12/s);
});

test('timestep tensors follow the session metadata: int64 [B], float32 [1]', async () => {
  const cache = new SessionCache();
  const i64 = await cache.get('i64', () => addModel(onnx.TensorProto.DataType.INT64, [2]));
  const t = timestepTensor(i64, 999, 2);
  assert.equal(t.type, 'int64');
  assert.deepEqual(t.dims, [2]);
  const out = await i64.run({ sample: new ort.Tensor('float32', new Float32Array([1, 2]), [2]), timestep: t });
  assert.deepEqual([...(out.out_sample.data as Float32Array)], [1000, 1001]);
  const f32 = await cache.get('f32', () => addModel(onnx.TensorProto.DataType.FLOAT, [1]));
  const t1 = timestepTensor(f32, 5, 2);
  assert.equal(t1.type, 'float32');
  assert.deepEqual(t1.dims, [1]);
  await cache.close();
});

test('model registry lists diffusers folders, names the available ones for unknown models, refreshes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  const make = (name: string, parts: string[]) => {
    for (const p of parts) {
      mkdirSync(join(dir, name, p), { recursive: true });
      writeFileSync(join(dir, name, p, 'model.onnx'), '');
    }
  };
  make('alpha', ['unet', 'text_encoder']);
  make('broken', ['unet']);
  const registry = new ModelRegistry(dir);
  assert.deepEqual(
    registry.list().map((m) => m.name),
    ['alpha'],
  );
  assert.equal(registry.get('alpha').hasControlNet, false);
  assert.throws(
    () => registry.get('beta'),
    (e: unknown) => e instanceof UnknownModelError && /available: alpha/.test((e as Error).message),
  );
  make('beta', ['unet', 'text_encoder', 'controlnet', 'unet_controlnet']);
  registry.refresh();
  assert.equal(registry.get('beta').hasControlNet, true);
});

test("onnxruntime's threads spin only when asked (ORT_SPINNING), and sessions run either way", async () => {
  const bytes = addModel(onnx.TensorProto.DataType.FLOAT, [1]);
  const spinOf = (o: ort.InferenceSession.SessionOptions) => (o.extra as { session: { intra_op: { allow_spinning: string } } }).session.intra_op.allow_spinning;
  for (const [spinning, expected] of [
    [undefined, '0'],
    [false, '0'],
    [true, '1'],
  ] as const) {
    const cache = new SessionCache({ spinning, intraOpThreads: 2 });
    assert.equal(spinOf(cache.sessionOptions()), expected, `spinning ${spinning}`);
    const session = await cache.get('s', () => bytes);
    const out = await session.run({
      sample: new ort.Tensor('float32', new Float32Array([1, 2]), [2]),
      timestep: new ort.Tensor('float32', new Float32Array([3]), [1]),
    });
    assert.deepEqual([...(out.out_sample.data as Float32Array)], [4, 5]);
    await cache.close();
  }
});
