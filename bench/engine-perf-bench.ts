// The engine's costs the "Done when" names, each measured inside one run (ratios of numbers taken side by
// side, never differences of noisy medians from separate runs):
// - overhead: the denoising loop's wall time over the time inside the UNet's session.run calls (pipeline-profile.ts);
// - controlnet: time per step with one ControlNet unit over a plain step, on the SD1.5-shaped model, for the split
//   layout (embedding once per job) and the old single graph;
// - lora: time per step with 8 LoRAs merged over none; merge and session build time of a LoRA set; 10 LoRA sets in
//   turn under a SESSION_CACHE_BYTES budget, with the cache's bytes and the process's peak RSS.
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import type { ControlNetUnit, GenerationParams, LoraRef } from '@farm/core';
import { Engine, type ExecutionProvider } from '@farm/engine';
import { buildMergedNetworks, removeMergedFiles } from '@farm/engine/lora';
import { generateModel, writeLoraFixtures, SeededRandom, type WeightSource } from '@farm/modelgen';
import { profiled, type Profile } from './pipeline-profile';
import { fmt, writeResult, type Row } from './lib/report';

const root = new URL('..', import.meta.url).pathname;
export const BENCH_MODELS = join(root, '.cache/bench-models');
const MiB = 2 ** 20;

/**
 * Cheap pseudo-random weights: windows of one block of seeded normal values, scaled by count^-1/4 (about 1/sqrt(fan-in)
 * for square layers), so activations stay O(1). The seeded generator draws ~2M values a second on this machine and
 * SD1.5 + ControlNet has 2.3G parameters; costs do not depend on the values, only on their staying normal floats.
 */
function fastWeights(): WeightSource {
  const block = new SeededRandom(5).normal(1 << 22, 1);
  let start = 0;
  return {
    read(_key: string, count: number): Float32Array {
      const out = new Float32Array(count);
      const scale = count ** -0.25;
      for (let i = 0; i < count; i++) out[i] = block[(start + i) & ((1 << 22) - 1)] * scale;
      start = (start + 7919 * 13) & ((1 << 22) - 1);
      return out;
    },
  };
}

/** The SD1.5-shaped model with its ControlNet (real shapes, pseudo-random weights), generated once (~9 GB). */
export async function ensureSd15ControlNet(log = console.log): Promise<string> {
  const dir = join(BENCH_MODELS, 'sd15-controlnet');
  if (!existsSync(join(dir, 'model_index.json'))) {
    const t0 = performance.now();
    const weights = fastWeights();
    await generateModel({ preset: 'sd15', outDir: `${dir}.tmp`, seed: 1, controlnet: true, weights: { unet: weights, text_encoder: weights, vae: weights } });
    renameSync(`${dir}.tmp`, dir);
    log(`generated sd15-controlnet in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  return dir;
}

const params = (model: string, p: Partial<GenerationParams> = {}): GenerationParams => ({
  kind: 'txt2img',
  model,
  prompt: 'a lighthouse on a cliff at sunset',
  negative_prompt: 'blurry',
  sampler: 'Euler',
  scheduler: 'Automatic',
  steps: 4,
  cfg_scale: 7,
  width: 256,
  height: 256,
  seed: 1,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [],
  controlnet: [],
  ...p,
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** per model call: the loop's wall time and the time inside the UNet (+ ControlNet) runs */
const perCall = (p: Profile) => ({ wall: p.unetLoopWallMs / p.calls.unet, inside: (p.insideMs.unet + p.insideMs.controlnet) / p.calls.unet });

/** Each configuration run `runs` times in turn (a, b, a, b, ...), so load on the machine falls on all alike. */
async function interleaved(configs: Record<string, () => Promise<unknown>>, runs: number): Promise<Record<string, Profile[]>> {
  const out: Record<string, Profile[]> = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
  for (const fn of Object.values(configs)) await fn(); // warm-up: sessions, merges
  for (let r = 0; r < runs; r++) for (const [k, fn] of Object.entries(configs)) out[k].push(await profiled(fn));
  return out;
}

export async function runOverheadBench(opts: { providers: ExecutionProvider[]; tiny: { modelsDir: string; model: string }; runs: number }) {
  const rows: Row[] = [];
  const cases: { label: string; modelsDir: string; model: string; p: Partial<GenerationParams> }[] = [
    { label: 'tiny, 256x256, 20 steps, batch 1', modelsDir: opts.tiny.modelsDir, model: opts.tiny.model, p: { steps: 20 } },
    { label: 'tiny, 256x256, 20 steps, batch 4', modelsDir: opts.tiny.modelsDir, model: opts.tiny.model, p: { steps: 20, batch_size: 4 } },
  ];
  const sd15 = join(BENCH_MODELS, 'sd15-controlnet');
  if (existsSync(join(sd15, 'model_index.json')))
    cases.push({ label: 'sd15-shaped, 256x256, 4 steps, batch 1', modelsDir: BENCH_MODELS, model: 'sd15-controlnet', p: { steps: 4 } });
  for (const c of cases) {
    const engine = new Engine({ modelsDir: c.modelsDir, providers: opts.providers, maxPixels: 1 << 20, maxSteps: 150 });
    const gen = () => engine.generate([{ id: 'o', params: params(c.model, c.p) }]);
    const { run } = await interleaved({ run: gen }, c.model === 'sd15-controlnet' ? 1 : opts.runs);
    const calls = run.map(perCall);
    rows.push({
      case: c.label,
      unet_calls: run[0].calls.unet,
      loop_ms_per_call: fmt(median(calls.map((x) => x.wall))),
      session_run_ms_per_call: fmt(median(calls.map((x) => x.inside))),
      overhead: median(run.map((p) => p.unetLoopWallMs / (p.insideMs.unet + p.insideMs.controlnet))).toFixed(4),
      runs: run.length,
    });
    await engine.close();
  }
  return writeResult('engine-overhead', { providers: opts.providers, runs: opts.runs }, [
    { title: 'In-loop pipeline overhead: denoising loop wall time / time inside UNet session.run', rows },
  ]);
}

/** A folder of hard links to `dir` without the split ControlNet files: the old single-graph layout, same weights. */
function oldLayoutCopy(dir: string, to: string): void {
  const walk = (from: string, dest: string) => {
    mkdirSync(dest, { recursive: true });
    for (const f of readdirSync(from)) {
      if (f === 'cond_embedding.onnx' || f === 'model.embedded.onnx') continue;
      const src = join(from, f);
      if (statSync(src).isDirectory()) walk(src, join(dest, f));
      else if (!existsSync(join(dest, f))) linkSync(src, join(dest, f));
    }
  };
  walk(dir, to);
}

export async function runControlNetBench(opts: { providers: ExecutionProvider[]; size: number; steps: number; runs: number; withOld?: boolean }) {
  const dir = await ensureSd15ControlNet();
  const oldModels = join(BENCH_MODELS, 'old-layout');
  oldLayoutCopy(dir, join(oldModels, 'sd15-controlnet'));
  const size = opts.size;
  const control = (
    await sharp({ create: { width: size, height: size, channels: 3, background: '#000' } })
      .composite([{ input: { create: { width: size / 2, height: size / 2, channels: 3, background: '#fff' } }, left: size / 4, top: size / 4 }])
      .png()
      .toBuffer()
  ).toString('base64');
  const unit: ControlNetUnit = {
    image: control,
    module: 'canny',
    model: 'default',
    weight: 1,
    guidance_start: 0,
    guidance_end: 1,
    processor_res: 512,
    threshold_a: 100,
    threshold_b: 200,
  };
  const p = params('sd15-controlnet', { steps: opts.steps, width: size, height: size });
  // one layout at a time (each engine holds ~9 GB of weights), each against plain steps measured in the same run
  const phase = async (modelsDir: string, label: string) => {
    const engine = new Engine({ modelsDir, providers: opts.providers, maxPixels: 1 << 20, maxSteps: 150 });
    const runs = await interleaved(
      {
        plain: () => engine.generate([{ id: 'p', params: p }]),
        control: () => engine.generate([{ id: 'c', params: { ...p, controlnet: [unit] } }]),
      },
      opts.runs,
    );
    await engine.close();
    const plainCall = median(runs.plain.map((x) => perCall(x).wall));
    return Object.entries({ 'no ControlNet': runs.plain, [label]: runs.control }).map(([layout, ps]): Row => {
      const wall = median(ps.map((x) => perCall(x).wall));
      return {
        layout,
        ms_per_step: fmt(wall),
        unet_ms: fmt(median(ps.map((x) => x.insideMs.unet / x.calls.unet))),
        controlnet_ms: fmt(median(ps.map((x) => x.insideMs.controlnet / x.calls.unet))),
        embedding_ms_per_job: fmt(median(ps.map((x) => x.insideMs.cond_embedding))),
        x_plain_step: (wall / plainCall).toFixed(3),
      };
    });
  };
  const rows = [
    ...(await phase(BENCH_MODELS, '1 unit, split (embedding once per job)')),
    ...(opts.withOld ? await phase(oldModels, '1 unit, old single graph') : []),
  ];
  // the default size keeps its own file; another size writes beside it instead of replacing it
  return writeResult(size === 128 ? 'controlnet-sd15' : `controlnet-sd15-${size}`, { providers: opts.providers, size, steps: opts.steps, runs: opts.runs }, [
    { title: `ControlNet cost per step, SD1.5 shape, ${size}x${size}, CFG batch 2`, rows },
  ]);
}

function vmHwm(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export async function runLoraBench(opts: {
  providers: ExecutionProvider[];
  size: number;
  steps: number;
  runs: number;
  sets: number;
  budgetBytes?: number;
  tiny?: { modelsDir: string; model: string };
}) {
  const modelsDir = opts.tiny?.modelsDir ?? BENCH_MODELS;
  const model = opts.tiny?.model ?? 'sd15-controlnet';
  const dir = opts.tiny ? join(modelsDir, model) : await ensureSd15ControlNet();
  const loraDir = join(tmpdir(), `bench-${model}-loras`);
  const names: string[] = [];
  for (let i = 0; i < 5; i++) {
    for (const kind of ['kohya', 'diffusers'] as const) {
      const name = `l${i}-${kind}`;
      names.push(name);
      if (existsSync(join(loraDir, `${name}.safetensors`))) continue;
      const files = writeLoraFixtures(dir, join(loraDir, `tmp-${i}`), { seed: 200 + i });
      renameSync(files[kind], join(loraDir, `${name}.safetensors`));
    }
  }
  const bytesOf = (sub: string) =>
    readdirSync(join(dir, sub))
      .filter((f) => f === 'model.onnx' || f === 'weights.pb')
      .reduce((s, f) => s + statSync(join(dir, sub, f)).size, 0);
  const base = bytesOf('unet') + bytesOf('text_encoder') + bytesOf('vae_decoder');
  const set = bytesOf('unet') + bytesOf('text_encoder');
  // the base pinned plus one merged set: every new set evicts the one before
  const margin = Math.floor(set / 4);
  const budget = opts.budgetBytes ?? base + set + margin;
  const engine = new Engine({ modelsDir, loraDir, providers: opts.providers, maxPixels: 1 << 20, maxSteps: 150, sessionCacheBytes: budget });
  const p = params(model, { steps: opts.steps, width: opts.size, height: opts.size });
  const eight: LoraRef[] = names.slice(0, 8).map((name) => ({ name, weight: 0.3 }));

  // step time: no LoRA vs 8 merged (both sessions stay cached under a budget that holds them); runs 0 skips it
  let stepRows: Row[] = [];
  if (opts.runs > 0) {
    const stepEngine = new Engine({ modelsDir, loraDir, providers: opts.providers, maxPixels: 1 << 20, maxSteps: 150, sessionCacheBytes: base + set + margin });
    const runs = await interleaved(
      {
        none: () => stepEngine.generate([{ id: 'n', params: p }]),
        eight: () => stepEngine.generate([{ id: 'e', params: { ...p, loras: eight } }]),
      },
      opts.runs,
    );
    await stepEngine.close();
    const none = median(runs.none.map((x) => perCall(x).wall));
    const withEight = median(runs.eight.map((x) => perCall(x).wall));
    stepRows = [
      { loras: '0', ms_per_step: fmt(none), unet_session_run_ms: fmt(median(runs.none.map((x) => perCall(x).inside))), x_no_lora: '1.000' },
      {
        loras: '8 (merged)',
        ms_per_step: fmt(withEight),
        unet_session_run_ms: fmt(median(runs.eight.map((x) => perCall(x).inside))),
        x_no_lora: (withEight / none).toFixed(3),
      },
    ];
  }

  // merge and session build of one new set, taken apart
  const t0 = performance.now();
  const merged = buildMergedNetworks(
    dir,
    eight.map((l) => ({ ...l, weight: 0.31 })),
    engine.listLoras(),
  );
  const mergeMs = performance.now() - t0;
  const t1 = performance.now();
  const unetSession = await ort.InferenceSession.create(merged.bytes.unet as string, { executionProviders: opts.providers, graphOptimizationLevel: 'all' });
  const buildMs = performance.now() - t1;
  await unetSession.release();
  removeMergedFiles(merged.bytes.unet);
  removeMergedFiles(merged.bytes.text_encoder);
  // the same build from the model's own UNet graph: what any cold load of this UNet costs, for reference
  const t2 = performance.now();
  const baseSession = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'), { executionProviders: opts.providers, graphOptimizationLevel: 'all' });
  const baseBuildMs = performance.now() - t2;
  await baseSession.release();
  const buildRows: Row[] = [
    { what: `merge 8 LoRAs (${merged.matchedLayers} layers) into UNet + text encoder`, ms: fmt(mergeMs) },
    { what: 'UNet session build from the merged graph', ms: fmt(buildMs) },
    { what: "UNet session build from the model's own graph (reference, same options)", ms: fmt(baseBuildMs) },
  ];

  // 10 LoRA sets in turn under the budget (sets 0 skips it)
  if (opts.sets > 0) await engine.generate([{ id: 'base', params: p }]);
  const memRows: Row[] = [];
  let peakCache = engine.cache.bytes;
  for (let s = 0; s < opts.sets; s++) {
    const loras = [
      { name: names[s % names.length], weight: (50 + s) / 100 },
      { name: names[(s + 3) % names.length], weight: 0.2 },
    ];
    const t = performance.now();
    await engine.generate([{ id: `s${s}`, params: { ...p, steps: 1, loras } }]);
    peakCache = Math.max(peakCache, engine.cache.bytes);
    memRows.push({
      set: s + 1,
      loras: loras.map((l) => `${l.name}:${l.weight}`).join(' + '),
      first_job_ms: fmt(performance.now() - t),
      cache_mib: (engine.cache.bytes / MiB).toFixed(1),
      lora_sessions: engine.cache.list().filter((e) => e.kind === 'lora').length,
      rss_mib: (process.memoryUsage().rss / MiB).toFixed(0),
    });
  }
  memRows.push({
    set: 'peak',
    loras: `budget ${(budget / MiB).toFixed(1)} MiB`,
    first_job_ms: '',
    cache_mib: (peakCache / MiB).toFixed(1),
    lora_sessions: '',
    rss_mib: (vmHwm() / MiB).toFixed(0),
  });
  await engine.close();
  return writeResult(
    `lora-${opts.tiny ? 'tiny' : 'sd15'}`,
    { providers: opts.providers, model, size: opts.size, steps: opts.steps, runs: opts.runs, budget_bytes: budget, base_bytes: base, set_bytes: set },
    [
      { title: `LoRA: time per step, ${model}, ${opts.size}x${opts.size}, CFG batch 2`, rows: stepRows },
      { title: `A new LoRA set on ${model}: merge and UNet session build`, rows: buildRows },
      { title: `${opts.sets} LoRA sets in turn under SESSION_CACHE_BYTES`, rows: memRows },
    ],
  );
}
