// The batched denoising loop. Every row (one image) has its own sampler run and RNG stream, so a batch gives the
// same images as its rows run alone, and a canceled item's rows can be dropped between steps. Rows whose prompts
// have different lengths (77 * chunks) run as separate UNet batches within the same step.
import * as ort from 'onnxruntime-node';
import type { NoiseSource } from '../rng';
import type { SamplerRun } from '../schedulers';
import { timestepTensor } from '../onnx/io';
import type { TextStates } from './text-encoding';
import { conditioningAt, condOnly, type RowConditioning } from './conditioning';
import { blendPrediction, type LatentBlend } from '../inpaint/blend';

export interface Row {
  itemId: string;
  /** the seed this row's noise and RNG stream come from (the image's Seed in its infotext) */
  seed: number;
  cfg: number;
  /** the item's conditioning schedule (AND parts, prompt editing, negative prompt) */
  conditioning: RowConditioning;
  /** model calls made so far: A1111 picks the scheduled conditioning by this count */
  calls: number;
  run: SamplerRun;
  rng: NoiseSource;
  x: Float32Array;
  /** extra UNet input channels after the latent (inpainting models: mask + masked-image latent), [k, h, w] */
  concat?: Float32Array;
  /** inpainting: the known latent blended into the prediction at every call */
  blend?: LatentBlend;
  /** which iteration of n_iter the row belongs to (A1111's interrupt and skip act per iteration) */
  iteration?: number;
}

/** Extra UNet inputs for a batch (ControlNet residuals), computed per model call. `order[b]` is the row whose latent
 * is batch entry b (uncond entries first when `withUncond`). */
export type ExtraFeeds = (args: {
  rows: Row[];
  order: Row[];
  withUncond: boolean;
  sample: ort.Tensor;
  timestep: ort.Tensor;
  states: ort.Tensor;
  callProgress: number;
}) => Promise<Record<string, ort.Tensor>>;

export interface DenoiseOptions {
  unet: ort.InferenceSession;
  latentDims: [number, number, number];
  isCanceled?: (itemId: string) => boolean;
  onStep?: (step: number, steps: number) => void;
  extraFeeds?: ExtraFeeds;
  /** UNet input channels (4, or 9 for inpainting models: rows then carry `concat`) */
  sampleChannels?: number;
  /** alphā at a (possibly fractional) timestep; needed by rows with `blend` */
  alphaBarAt?: (t: number) => number;
  /** after each step: rows that end now with their current latent, and rows that are dropped */
  control?: (live: Row[], step: number) => { finish: Row[]; drop: Row[] };
  /** most rows (images) per UNet call, so a call fits the worker's memory; more run as further calls of the same step */
  maxRowsPerCall?: number;
}

interface Group {
  rows: Row[];
  withUncond: boolean;
  sequence: number;
  channels: number;
  /** the batch's text states and the texts they were built from (rebuilt when a schedule switches) */
  states?: { key: string; tensor: ort.Tensor; order: Row[]; condAt: number[][] };
}

function buildGroups(rows: Row[], maxRows = Infinity): Group[] {
  const bySequence = new Map<number, Row[]>();
  for (const r of rows) bySequence.set(r.conditioning.sequence, [...(bySequence.get(r.conditioning.sequence) ?? []), r]);
  const batches = [...bySequence.values()].flatMap((all) => {
    const size = Math.max(1, Math.min(maxRows, all.length));
    return Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size));
  });
  return batches.map((groupRows) => ({
    rows: groupRows,
    withUncond: groupRows.some((r) => needsUncond(r)),
    sequence: groupRows[0].conditioning.sequence,
    channels: groupRows[0].conditioning.uncond[0].states.channels,
  }));
}

/** The guided prediction needs the unconditional one (CFG, AND parts, or a sampler that reads it, as CFG++ does). */
const needsUncond = (r: Row) => !condOnly(r.conditioning, r.cfg) || r.run.needsUncond === true;

/**
 * The batch layout for one model call: the uncond of every row (when any row needs it), then every row's
 * conditional parts, each picked by the row's own model-call count. `order[b]` is the row of batch entry b;
 * `condAt[i]` the entries of row i's parts.
 */
function statesFor(g: Group): NonNullable<Group['states']> {
  const at = g.rows.map((r) => conditioningAt(r.conditioning, r.calls));
  const key = at.map((a) => a.key).join(';');
  if (g.states?.key === key) return g.states;
  const entries: TextStates[] = g.withUncond ? at.map((a) => a.uncond) : [];
  const order: Row[] = g.withUncond ? [...g.rows] : [];
  const condAt = at.map((a, i) =>
    a.conds.map((c) => {
      entries.push(c.states);
      order.push(g.rows[i]);
      return entries.length - 1;
    }),
  );
  const size = g.sequence * g.channels;
  const data = new Float32Array(entries.length * size);
  entries.forEach((s, i) => data.set(s.data, i * size));
  g.states = { key, tensor: new ort.Tensor('float32', data, [entries.length, g.sequence, g.channels]), order, condAt };
  return g.states;
}

/** Runs one model call for the group's unfinished rows; rows waiting at different timesteps (DPM adaptive) go in separate batches. */
async function callGroup(g: Group, opts: DenoiseOptions, latentSize: number, callProgress: number): Promise<void> {
  const byTimestep = new Map<number, Row[]>();
  for (const r of g.rows) if (!r.run.done) byTimestep.set(r.run.nextTimestep(), [...(byTimestep.get(r.run.nextTimestep()) ?? []), r]);
  if (byTimestep.size !== 1 || byTimestep.values().next().value!.length !== g.rows.length) {
    for (const rows of byTimestep.values()) for (const sub of buildGroups(rows, opts.maxRowsPerCall)) await callGroup(sub, opts, latentSize, callProgress);
    return;
  }
  const { tensor: states, order, condAt } = statesFor(g);
  const scaled = new Map(g.rows.map((r) => [r, r.run.scaleInput(r.x)]));
  const channels = opts.sampleChannels ?? opts.latentDims[0];
  const sampleSize = (latentSize / opts.latentDims[0]) * channels;
  const samples = new Float32Array(order.length * sampleSize);
  order.forEach((r, b) => {
    samples.set(scaled.get(r)!, b * sampleSize);
    if (r.concat) samples.set(r.concat, b * sampleSize + latentSize);
  });
  const sample = new ort.Tensor('float32', samples, [order.length, channels, opts.latentDims[1], opts.latentDims[2]]);
  const t = g.rows[0].run.nextTimestep();
  const timestep = timestepTensor(opts.unet, t, order.length);
  // inpainting: the x0 the prediction implies is the known latent where the mask keeps the image (A1111's blend of denoised)
  const blended = (r: Row, eps: Float32Array) => (r.blend ? blendPrediction(eps, scaled.get(r)!, opts.alphaBarAt!(t), r.blend) : eps);
  const extra = opts.extraFeeds ? await opts.extraFeeds({ rows: g.rows, order, withUncond: g.withUncond, sample, timestep, states, callProgress }) : {};
  const out = await opts.unet.run({ sample, timestep, encoder_hidden_states: states, ...extra });
  const pred = (out.out_sample ?? out[opts.unet.outputNames[0]]).data as Float32Array;
  const entry = (b: number) => pred.subarray(b * latentSize, (b + 1) * latentSize);
  g.rows.forEach((r, i) => {
    if (!needsUncond(r)) {
      r.x = r.run.step(blended(r, entry(condAt[i][0])), r.x, r.rng);
    } else {
      // A1111's combine_denoised: uncond + sum over AND parts of weight * cfg * (cond - uncond)
      const u = entry(i);
      const eps = Float32Array.from(u);
      const parts = r.conditioning.parts;
      condAt[i].forEach((b, j) => {
        const c = entry(b);
        const scale = parts[j].weight * r.cfg * (r.run.cfgMultiplier ?? 1);
        for (let k = 0; k < latentSize; k++) eps[k] += scale * (c[k] - u[k]);
      });
      r.x = r.run.step(blended(r, eps), r.x, r.rng, u);
    }
    r.calls++;
  });
}

/** Runs all rows to the end (or until `control` ends them); returns the rows not canceled or dropped, in their order, with their last latents in `x`. */
export async function denoise(rows: Row[], opts: DenoiseOptions): Promise<Row[]> {
  const latentSize = opts.latentDims[0] * opts.latentDims[1] * opts.latentDims[2];
  const finished = new Set<Row>();
  let live = rows;
  let groups = buildGroups(live, opts.maxRowsPerCall);
  let reported = 0;
  while (live.some((r) => !r.run.done)) {
    const steps = live[0].run.steps;
    const stepIndex = () => Math.min(...live.map((r) => r.run.stepIndex));
    const callProgress = stepIndex() / steps;
    for (const g of groups) await callGroup(g, opts, latentSize, callProgress);
    if (stepIndex() !== reported) {
      reported = stepIndex();
      opts.onStep?.(reported, steps);
      let remaining = live.filter((r) => !opts.isCanceled?.(r.itemId));
      const control = opts.control?.(remaining, reported);
      if (control && control.finish.length + control.drop.length > 0) {
        for (const r of control.finish) finished.add(r);
        remaining = remaining.filter((r) => !control.finish.includes(r) && !control.drop.includes(r));
      }
      if (remaining.length !== live.length) {
        live = remaining;
        groups = buildGroups(live, opts.maxRowsPerCall);
      }
    }
  }
  return rows.filter((r) => finished.has(r) || live.includes(r));
}
