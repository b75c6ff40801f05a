// Full SD1.5-shaped UNet (860M parameters, random weights, real cost): cold load and one step at 512x512.
// Generates the model on first use (about 3.4 GB under .cache/bench-models/sd15-shaped).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { generateModel } from '@farm/modelgen';
import { timeIt } from './lib/stats';
import { fmt, writeResult, type Row } from './lib/report';

const root = new URL('..', import.meta.url).pathname;

export async function runSd15StepBench(providers: string[] = (process.env.BENCH_PROVIDERS ?? 'cpu').split(',')) {
  // a folder of its own: the tests' model folder must hold only the tiny model
  const modelsDir = join(root, '.cache/bench-models');
  const dir = join(modelsDir, 'sd15-shaped');
  let genMs = 0;
  if (!existsSync(join(dir, 'unet/model.onnx'))) {
    const t0 = performance.now();
    await generateModel({ preset: 'sd15', outDir: dir, seed: 1, controlnet: false });
    genMs = performance.now() - t0;
  }
  const opts: ort.InferenceSession.SessionOptions = { executionProviders: providers as any, graphOptimizationLevel: 'all' };
  const rows: Row[] = [];
  const t0 = performance.now();
  const unet = await ort.InferenceSession.create(join(dir, 'unet/model.onnx'), opts);
  const load = fmt(performance.now() - t0);
  rows.push({ measure: 'UNet cold load', median_ms: load, min_ms: load, max_ms: load, runs: 1 });
  const batch = 2;
  const n = batch * 4 * 64 * 64;
  const feeds = {
    sample: new ort.Tensor('float32', new Float32Array(n).fill(0.1), [batch, 4, 64, 64]),
    timestep: new ort.Tensor('float32', new Float32Array(batch).fill(500), [batch]),
    encoder_hidden_states: new ort.Tensor('float32', new Float32Array(batch * 77 * 768).fill(0.01), [batch, 77, 768]),
  };
  const step = await timeIt(() => unet.run(feeds), { warmup: 1, runs: 3 });
  rows.push({
    measure: 'one UNet step, 512x512, batch 2 (CFG)',
    median_ms: fmt(step.median_ms),
    min_ms: fmt(step.min_ms),
    max_ms: fmt(step.max_ms),
    runs: step.runs,
  });
  if (genMs > 0) rows.push({ measure: 'model generation (once)', median_ms: fmt(genMs), min_ms: fmt(genMs), max_ms: fmt(genMs), runs: 1 });
  await unet.release();
  return writeResult('engine-sd15', { providers, model: 'sd15-shaped (random weights)' }, [{ title: `SD1.5-shaped UNet on ${providers.join(',')}`, rows }]);
}
