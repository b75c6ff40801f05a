import { test } from 'vitest';
import assert from 'node:assert/strict';
import { loadConfig, tensorrtEnvironment } from '../src/config';

test('GPU settings: graph flavour, device, TensorRT fp16 and engine cache become what onnxruntime reads', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.GRAPH_FLAVOUR, 'auto');
  assert.equal(defaults.GPU_DEVICE_ID, 0);
  assert.deepEqual(tensorrtEnvironment(defaults), { ORT_TENSORRT_FP16_ENABLE: '1' });
  const set = loadConfig({ GRAPH_FLAVOUR: 'gpu', GPU_DEVICE_ID: '1', TRT_FP16: 'false', TRT_ENGINE_CACHE_DIR: '/trt-cache' });
  assert.equal(set.GRAPH_FLAVOUR, 'gpu');
  assert.equal(set.GPU_DEVICE_ID, 1);
  assert.deepEqual(tensorrtEnvironment(set), { ORT_TENSORRT_FP16_ENABLE: '0', ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1', ORT_TENSORRT_CACHE_PATH: '/trt-cache' });
  assert.throws(() => loadConfig({ GRAPH_FLAVOUR: 'fast' }), /GRAPH_FLAVOUR/);
});
