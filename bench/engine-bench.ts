// Engine benchmark: stage times, images/s by batch size, and the pipeline's per-step overhead
// against a bare onnxruntime-node session.run of the same UNet with the same inputs.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Engine, type ExecutionProvider } from '@farm/engine';
import { loadTokenizer, tokenizeWeighted } from '@farm/engine/tokenizer';
import type { GenerationParams } from '@farm/core';
import { timeIt, compare } from './lib/stats';
import { fmt, writeResult, type Row } from './lib/report';

export interface EngineBenchOptions {
  modelsDir: string;
  model: string;
  width: number;
  height: number;
  steps: number;
  batches: number[];
  runs: number;
  providers: ExecutionProvider[];
}

function params(o: EngineBenchOptions, over: Partial<GenerationParams> = {}): GenerationParams {
  return {
    kind: 'txt2img',
    model: o.model,
    prompt: 'a lighthouse on a cliff at sunset, oil painting',
    negative_prompt: 'blurry',
    sampler: 'Euler a',
    scheduler: 'Automatic',
    steps: o.steps,
    cfg_scale: 7,
    width: o.width,
    height: o.height,
    seed: 1,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
    ...over,
  };
}

function tensor(dims: number[], fill = 0.5): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37) * fill;
  return new ort.Tensor('float32', data, dims);
}

async function timestepTensor(session: ort.InferenceSession, batch: number): Promise<ort.Tensor> {
  const meta = (session as any).inputMetadata as Array<{ name: string; type?: string; shape?: unknown[] }> | undefined;
  const info = meta?.find((m) => m.name === 'timestep');
  const type = info?.type ?? 'float32';
  const rank = info?.shape?.length ?? 1;
  const dims = rank === 0 ? [] : [rank === 1 && info?.shape?.[0] === 1 ? 1 : batch];
  const n = dims.length === 0 ? 1 : dims[0];
  if (type === 'int64')
    return new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, () => 500n),
      dims,
    );
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, () => 500),
    dims,
  );
}

export async function runEngineBench(o: EngineBenchOptions, suite: string) {
  const modelDir = join(o.modelsDir, o.model);
  const h = o.height / 8;
  const w = o.width / 8;
  const sessionOpts: ort.InferenceSession.SessionOptions = { executionProviders: o.providers, graphOptimizationLevel: 'all' };

  const coldUnet = await timeIt(
    async () => {
      const s = await ort.InferenceSession.create(join(modelDir, 'unet/model.onnx'), sessionOpts);
      await s.release();
    },
    { warmup: 0, runs: 3 },
  );
  const unet = await ort.InferenceSession.create(join(modelDir, 'unet/model.onnx'), sessionOpts);
  const textEncoder = await ort.InferenceSession.create(join(modelDir, 'text_encoder/model.onnx'), sessionOpts);
  const vaeDecoder = await ort.InferenceSession.create(join(modelDir, 'vae_decoder/model.onnx'), sessionOpts);
  const hidden = textEncoder.outputNames.includes('last_hidden_state') ? textEncoder : textEncoder;
  const ids = new ort.Tensor(
    'int32',
    Int32Array.from({ length: 2 * 77 }, (_, i) => (i % 77 === 0 ? 0 : 1)),
    [2, 77],
  );
  const textOut = await hidden.run({ input_ids: ids });
  const states = textOut.last_hidden_state as ort.Tensor;

  const unetFeeds = async (batch: number) => ({
    sample: tensor([batch, 4, h, w]),
    timestep: await timestepTensor(unet, batch),
    encoder_hidden_states: new ort.Tensor('float32', new Float32Array(batch * 77 * (states.dims[2] as number)).fill(0.1), [
      batch,
      77,
      states.dims[2] as number,
    ]),
  });
  const feeds2 = await unetFeeds(2);
  const stages: Row[] = [];
  const add = (stage: string, t: { median_ms: number; min_ms: number; max_ms: number; runs: number }) =>
    stages.push({ stage, median_ms: fmt(t.median_ms), min_ms: fmt(t.min_ms), max_ms: fmt(t.max_ms), runs: t.runs });

  add('UNet session cold load', coldUnet);
  const tokenizer = loadTokenizer(join(modelDir, 'tokenizer'));
  let n = 0;
  add(
    'tokenize (emphasis + BPE, fresh prompt each run)',
    await timeIt(() => tokenizeWeighted(tokenizer, `a lighthouse on a cliff at sunset number ${n++}, (oil painting:1.2), [blurry]`), { runs: o.runs * 10 }),
  );
  add('text encoder (cond+uncond, 77 tokens)', await timeIt(() => textEncoder.run({ input_ids: ids }), { runs: o.runs }));
  add('one UNet step (batch 2 = CFG, bare session.run)', await timeIt(() => unet.run(feeds2), { runs: o.runs }));
  const latent = tensor([1, 4, h, w]);
  add('VAE decode (1 image)', await timeIt(() => vaeDecoder.run({ latent_sample: latent }), { runs: o.runs }));
  const rgb = Buffer.alloc(o.width * o.height * 3, 127);
  add(
    'PNG encode (sharp)',
    await timeIt(
      () =>
        sharp(rgb, { raw: { width: o.width, height: o.height, channels: 3 } })
          .png()
          .toBuffer(),
      { runs: o.runs },
    ),
  );

  const engine = new Engine({ modelsDir: o.modelsDir, maxPixels: 4096 * 4096, maxSteps: 1000, providers: o.providers });
  const gen = (p: GenerationParams) => engine.generate([{ id: 'bench', params: p }]);
  add(`whole txt2img, ${o.steps} steps, batch 1`, await timeIt(() => gen(params(o)), { runs: o.runs }));

  // Per-step overhead: the difference between 2S and S steps is S steps of pipeline work, compared with S bare runs.
  const s = o.steps;
  const pipelineSteps = await compare(
    () => gen(params(o, { steps: 2 * s })),
    () => gen(params(o, { steps: s })),
    { runs: o.runs, warmup: 1 },
  );
  const perStepPipeline = (pipelineSteps.a.median_ms - pipelineSteps.b.median_ms) / s;
  const bare = await timeIt(() => unet.run(feeds2), { runs: o.runs * 3 });
  const overhead: Row[] = [
    {
      measure: 'time per denoising step (batch 2 = CFG)',
      pipeline_ms: fmt(perStepPipeline),
      bare_session_run_ms: fmt(bare.median_ms),
      ratio: (perStepPipeline / bare.median_ms).toFixed(3),
    },
  ];

  const throughput: Row[] = [];
  for (const b of o.batches) {
    const t = await timeIt(() => gen(params(o, { batch_size: b })), { runs: Math.max(3, Math.ceil(o.runs / 2)), warmup: 1 });
    throughput.push({
      batch: b,
      median_ms: fmt(t.median_ms),
      min_ms: fmt(t.min_ms),
      max_ms: fmt(t.max_ms),
      images_per_s: (b / (t.median_ms / 1000)).toFixed(2),
    });
  }
  await engine.close();
  await Promise.all([unet.release(), textEncoder.release(), vaeDecoder.release()]);

  return writeResult(suite, o, [
    { title: `Stages (${o.model}, ${o.width}x${o.height})`, rows: stages },
    { title: 'Pipeline overhead per step vs bare session.run', rows: overhead },
    { title: `Throughput (${o.steps} steps, Euler a, CFG 7)`, rows: throughput },
  ]);
}
