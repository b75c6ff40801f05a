// The GPU suite: the SD1.5-shaped model (random weights, real shapes and cost) in both graph flavours, 512x512,
// 20 steps, CFG 7, batch 1/4/8, through the engine as a worker runs it. Reports seconds per image, the split of
// each image's time (text encoder / UNet steps / VAE / PNG), the in-loop pipeline overhead, and the ratio to the
// device's FLOP-bound floor: 20 x 2 (CFG) x 0.8 TFLOP (UNet forward) + 2.5 TFLOP (VAE decoder) = 34.5 TFLOP per
// image, over the device's fp16 matrix rate (BENCH_DEVICE_TFLOPS, measured beside the run).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { GenerationParams } from '@farm/core';
import { generateModel } from '@farm/modelgen';
import { Engine, type ExecutionProvider } from '@farm/engine';
import { profiled } from './pipeline-profile';
import { fmt, writeResult, type Row } from './lib/report';

const TFLOP_PER_IMAGE = 20 * 2 * 0.8 + 2.5;

export async function runGpuBench(opts: {
  modelsDir: string;
  providers: ExecutionProvider[];
  batches?: number[];
  steps?: number;
  runs?: number;
  deviceTflops?: number;
  log?: (s: string) => void;
  preset?: 'sd15' | 'tiny';
  size?: number;
}) {
  const log = opts.log ?? console.log;
  const preset = opts.preset ?? 'sd15';
  const name = `${preset}-flavours`;
  const dir = join(opts.modelsDir, name);
  if (!existsSync(join(dir, 'unet/model.gpu.onnx'))) {
    const t0 = performance.now();
    await generateModel({
      preset,
      outDir: dir,
      seed: 1,
      controlnet: false,
      flavours: ['portable', 'gpu'],
      gpuPrecision: opts.providers[0] === 'cpu' ? 'fp32' : 'fp16',
    });
    log(`generated sd15-shaped portable + gpu flavours in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const steps = opts.steps ?? 20;
  const base: GenerationParams = {
    kind: 'txt2img',
    model: name,
    prompt: 'a lighthouse on a cliff at sunset, oil painting',
    negative_prompt: 'blurry',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps,
    cfg_scale: 7,
    width: opts.size ?? 512,
    height: opts.size ?? 512,
    seed: 1,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
  } as GenerationParams;
  const rows: Row[] = [];
  for (const flavour of ['portable', 'gpu'] as const) {
    const engine = new Engine({ modelsDir: opts.modelsDir, providers: opts.providers, graphFlavour: flavour, maxPixels: 1 << 20, maxSteps: 150, vaeBatch: 8 });
    for (const batch of opts.batches ?? [1, 4, 8]) {
      const items = [{ id: 'b', params: { ...base, batch_size: batch } }];
      await engine.generate(items); // warm-up: sessions, cuDNN algorithm search
      const profiles = [];
      for (let r = 0; r < (opts.runs ?? 2); r++) profiles.push(await profiled(() => engine.generate(items)));
      const p = profiles.sort((a, b) => a.wallMs - b.wallMs)[Math.floor(profiles.length / 2)];
      const perImage = p.wallMs / batch / 1000;
      const floor = opts.deviceTflops ? TFLOP_PER_IMAGE / opts.deviceTflops : NaN;
      const unetOverhead = p.unetLoopWallMs / p.insideMs.unet;
      rows.push({
        flavour,
        batch,
        s_per_image: perImage.toFixed(3),
        text_ms: fmt(p.insideMs.text_encoder / batch),
        unet_ms: fmt(p.insideMs.unet / batch),
        vae_ms: fmt(p.insideMs.vae_decoder / batch),
        png_tail_ms: fmt(p.afterVaeMs / batch),
        unet_step_ms: fmt(p.insideMs.unet / p.calls.unet),
        loop_overhead: unetOverhead.toFixed(3),
        floor_s: Number.isNaN(floor) ? 'n/a' : floor.toFixed(3),
        x_floor: Number.isNaN(floor) ? 'n/a' : (perImage / floor).toFixed(1),
      });
      log(JSON.stringify(rows[rows.length - 1]));
    }
    await engine.close();
  }
  return writeResult(
    `gpu-${preset}`,
    { providers: opts.providers, steps, size: '512x512', sampler: 'Euler', cfg: 7, tflop_per_image: TFLOP_PER_IMAGE, device_tflops: opts.deviceTflops ?? null },
    [{ title: `${preset} shape, ${opts.size ?? 512}x${opts.size ?? 512}, ${steps} steps, per image (${opts.providers.join(',')})`, rows }],
  );
}

/** fp16 numerics on the device: each network's gpu flavour against its portable flavour on the same inputs. */
export async function flavourAgreement(modelDir: string, providers: ExecutionProvider[]): Promise<Row[]> {
  const ort = await import('onnxruntime-node');
  const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + phase) * 0.8);
  const feeds: Record<string, Record<string, InstanceType<typeof ort.Tensor>>> = {
    text_encoder: {
      input_ids: new ort.Tensor(
        'int32',
        Int32Array.from({ length: 2 * 77 }, (_, i) => (i * 389) % 49000),
        [2, 77],
      ),
    },
    unet: {
      sample: new ort.Tensor('float32', wave(2 * 4 * 64 * 64, 1), [2, 4, 64, 64]),
      timestep: new ort.Tensor('float32', Float32Array.of(981, 981), [2]),
      encoder_hidden_states: new ort.Tensor('float32', wave(2 * 77 * 768, 2), [2, 77, 768]),
    },
    vae_decoder: {
      latent_sample: new ort.Tensor(
        'float32',
        wave(4 * 64 * 64, 3).map((v) => v * 4),
        [1, 4, 64, 64],
      ),
    },
  };
  const rows: Row[] = [];
  for (const [net, inputs] of Object.entries(feeds)) {
    const options = { executionProviders: providers, graphOptimizationLevel: 'all' as const };
    const a = await ort.InferenceSession.create(join(modelDir, net, 'model.onnx'), options);
    const b = await ort.InferenceSession.create(join(modelDir, net, 'model.gpu.onnx'), options);
    const [ra, rb] = [await a.run(inputs), await b.run(inputs)];
    const name = a.outputNames[0];
    const x = ra[name].data as Float32Array,
      y = rb[name].data as Float32Array;
    let num = 0,
      den = 0,
      nan = 0;
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(y[i])) nan++;
      num += (x[i] - y[i]) ** 2;
      den += x[i] ** 2;
    }
    rows.push({ network: net, output: name, rel_error_fp16_vs_fp32: Math.sqrt(num / den).toExponential(2), non_finite: nan });
    await a.release();
    await b.release();
  }
  return rows;
}
