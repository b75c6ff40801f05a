import { test } from 'vitest';
import assert from 'node:assert/strict';
import { onnx } from '@farm/engine/onnx-proto';
import { splitControlNet, splitFileNames } from '../src/controlnet-split';

const value = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } });
const model = (node: onnx.INodeProto[], initializer: onnx.ITensorProto[] = []): onnx.IModelProto => ({
  irVersion: 8,
  opsetImport: [{ domain: '', version: 17 }],
  graph: { name: 'cn', node, initializer, input: [value('sample'), value('controlnet_cond')], output: [value('out')] },
});
const w: onnx.ITensorProto = { name: 'w', dataType: 1, dims: [2], rawData: new Uint8Array(8) };
const v: onnx.ITensorProto = { name: 'v', dataType: 1, dims: [2], rawData: new Uint8Array(8) };

test('the embedding is what depends on the control image alone; the rest reads it by name', () => {
  const halves = splitControlNet(
    model(
      [
        { name: 'c', opType: 'Constant', output: ['k'] },
        { name: 'e1', opType: 'Mul', input: ['controlnet_cond', 'w'], output: ['m'] },
        { name: 'e2', opType: 'Add', input: ['m', 'k'], output: ['emb'] },
        { name: 'r1', opType: 'Mul', input: ['sample', 'v'], output: ['s'] },
        { name: 'r2', opType: 'Add', input: ['s', 'emb'], output: ['t'] },
        { name: 'r3', opType: 'Add', input: ['t', 'k'], output: ['out'] },
      ],
      [w, v],
    ),
  )!;
  assert.ok(halves);
  const e = halves.embedding.graph!;
  const r = halves.rest.graph!;
  assert.deepEqual(
    e.node!.map((n) => n.name),
    ['c', 'e1', 'e2'],
  );
  assert.deepEqual(e.node![2].output, ['controlnet_cond_embedding']);
  assert.deepEqual(
    e.initializer!.map((t) => t.name),
    ['w'],
  );
  assert.deepEqual(
    e.input!.map((i) => i.name),
    ['controlnet_cond'],
  );
  assert.deepEqual(
    e.output!.map((o) => o.name),
    ['controlnet_cond_embedding'],
  );
  // the constant goes with both halves that read it
  assert.deepEqual(
    r.node!.map((n) => n.name),
    ['c', 'r1', 'r2', 'r3'],
  );
  assert.deepEqual(r.node![2].input, ['s', 'controlnet_cond_embedding']);
  assert.deepEqual(
    r.initializer!.map((t) => t.name),
    ['v'],
  );
  assert.deepEqual(
    r.input!.map((i) => i.name),
    ['sample', 'controlnet_cond_embedding'],
  );
  assert.equal(r.input![1].type!.tensorType!.elemType, onnx.TensorProto.DataType.FLOAT);
});

test('no split when the image also feeds a later node, when two values cross, or without the input', () => {
  assert.equal(
    splitControlNet(
      model([
        { opType: 'Relu', input: ['controlnet_cond'], output: ['emb'] },
        { opType: 'Add', input: ['sample', 'emb'], output: ['t'] },
        { opType: 'Add', input: ['t', 'controlnet_cond'], output: ['out'] },
      ]),
    ),
    null,
  );
  assert.equal(
    splitControlNet(
      model([
        { opType: 'Relu', input: ['controlnet_cond'], output: ['a'] },
        { opType: 'Neg', input: ['controlnet_cond'], output: ['b'] },
        { opType: 'Add', input: ['sample', 'a'], output: ['t'] },
        { opType: 'Add', input: ['t', 'b'], output: ['out'] },
      ]),
    ),
    null,
  );
  assert.equal(
    splitControlNet({
      ...model([{ opType: 'Relu', input: ['sample'], output: ['out'] }]),
      graph: { ...model([]).graph, input: [value('sample')], node: [{ opType: 'Relu', input: ['sample'], output: ['out'] }] },
    }),
    null,
  );
  assert.deepEqual(splitFileNames('model.gpu.onnx'), { embedding: 'cond_embedding.gpu.onnx', rest: 'model.embedded.gpu.onnx' });
});
