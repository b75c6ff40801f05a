// The batched denoising loop. Every row (one image) has its own sampler run and RNG stream, so a batch gives the
// same images as its rows run alone, and a canceled item's rows can be dropped between steps. Rows whose prompts
// have different lengths (77 * chunks) run as separate UNet batches within the same step.
import * as ort from 'onnxruntime-node';
import type { NoiseSource } from '../rng';
import type { SamplerRun } from '../schedulers';
import { timestepTensor } from '../onnx/io';
import type { TextStates } from './text-encoding';

export interface Row {
  itemId: string;
  /** the seed this row's noise and RNG stream come from (the image's Seed in its infotext) */
  seed: number;
  cfg: number;
  cond: TextStates;
  uncond: TextStates;
  run: SamplerRun;
  rng: NoiseSource;
  x: Float32Array;
}

/** Extra UNet inputs for a batch (ControlNet residuals), computed per model call. */
export type ExtraFeeds = (args: { rows: Row[]; withUncond: boolean; sample: ort.Tensor; timestep: ort.Tensor; states: ort.Tensor; callProgress: number }) => Promise<Record<string, ort.Tensor>>;

export interface DenoiseOptions {
  unet: ort.InferenceSession;
  latentDims: [number, number, number];
  isCanceled?: (itemId: string) => boolean;
  onStep?: (step: number, steps: number) => void;
  extraFeeds?: ExtraFeeds;
}

interface Group {
  rows: Row[];
  withUncond: boolean;
  states: ort.Tensor;
  sample: Float32Array;
}

function buildGroups(rows: Row[], latentSize: number): Group[] {
  const bySequence = new Map<number, Row[]>();
  for (const r of rows) bySequence.set(r.cond.sequence, [...(bySequence.get(r.cond.sequence) ?? []), r]);
  return [...bySequence.values()].map((groupRows) => {
    const withUncond = groupRows.some((r) => r.cfg !== 1 || r.run.needsUncond);
    const { sequence, channels } = groupRows[0].cond;
    const halves = withUncond ? [groupRows.map((r) => r.uncond), groupRows.map((r) => r.cond)] : [groupRows.map((r) => r.cond)];
    const all = halves.flat();
    const data = new Float32Array(all.length * sequence * channels);
    all.forEach((s, i) => data.set(s.data, i * sequence * channels));
    return {
      rows: groupRows,
      withUncond,
      states: new ort.Tensor('float32', data, [all.length, sequence, channels]),
      sample: new Float32Array(all.length * latentSize),
    };
  });
}

/** Runs one model call for the group's unfinished rows; rows waiting at different timesteps (DPM adaptive) go in separate batches. */
async function callGroup(g: Group, opts: DenoiseOptions, latentSize: number, callProgress: number): Promise<void> {
  const byTimestep = new Map<number, Row[]>();
  for (const r of g.rows) if (!r.run.done) byTimestep.set(r.run.nextTimestep(), [...(byTimestep.get(r.run.nextTimestep()) ?? []), r]);
  if (byTimestep.size !== 1 || byTimestep.values().next().value!.length !== g.rows.length) {
    for (const rows of byTimestep.values()) for (const sub of buildGroups(rows, latentSize)) await callGroup(sub, opts, latentSize, callProgress);
    return;
  }
  const n = g.rows.length;
  const batch = g.withUncond ? 2 * n : n;
  g.rows.forEach((r, i) => {
    const scaled = r.run.scaleInput(r.x);
    g.sample.set(scaled, i * latentSize);
    if (g.withUncond) g.sample.set(scaled, (n + i) * latentSize);
  });
  const sample = new ort.Tensor('float32', g.sample, [batch, ...opts.latentDims]);
  const timestep = timestepTensor(opts.unet, g.rows[0].run.nextTimestep(), batch);
  const extra = opts.extraFeeds ? await opts.extraFeeds({ rows: g.rows, withUncond: g.withUncond, sample, timestep, states: g.states, callProgress }) : {};
  const out = await opts.unet.run({ sample, timestep, encoder_hidden_states: g.states, ...extra });
  const pred = (out.out_sample ?? out[opts.unet.outputNames[0]]).data as Float32Array;
  g.rows.forEach((r, i) => {
    if (g.withUncond) {
      const u = pred.subarray(i * latentSize, (i + 1) * latentSize);
      const c = pred.subarray((n + i) * latentSize, (n + i + 1) * latentSize);
      const eps = new Float32Array(latentSize);
      const scale = r.cfg * (r.run.cfgMultiplier ?? 1);
      for (let k = 0; k < latentSize; k++) eps[k] = u[k] + scale * (c[k] - u[k]);
      r.x = r.run.step(eps, r.x, r.rng, u);
    } else {
      r.x = r.run.step(pred.subarray(i * latentSize, (i + 1) * latentSize), r.x, r.rng);
    }
  });
}

/** Runs all rows to the end; returns the rows that were not canceled, with their final latents in `x`. */
export async function denoise(rows: Row[], opts: DenoiseOptions): Promise<Row[]> {
  const latentSize = opts.latentDims[0] * opts.latentDims[1] * opts.latentDims[2];
  let live = rows;
  let groups = buildGroups(live, latentSize);
  let reported = 0;
  while (live.some((r) => !r.run.done)) {
    const steps = live[0].run.steps;
    const stepIndex = () => Math.min(...live.map((r) => r.run.stepIndex));
    const callProgress = stepIndex() / steps;
    for (const g of groups) await callGroup(g, opts, latentSize, callProgress);
    if (stepIndex() !== reported) {
      reported = stepIndex();
      opts.onStep?.(reported, steps);
      const remaining = live.filter((r) => !opts.isCanceled?.(r.itemId));
      if (remaining.length !== live.length) {
        live = remaining;
        groups = buildGroups(live, latentSize);
      }
    }
  }
  return live;
}
