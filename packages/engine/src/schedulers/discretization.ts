// Which noise levels / timesteps a run visits. 'a1111' follows A1111 1.10: k-diffusion's sigmas (Automatic =
// the model's uniform schedule over t = 999..0 with log-sigma interpolation, or the sampler's default schedule type),
// discard_next_to_last_sigma, A1111's img2img arithmetic, and for DDIM/PLMS/UniPC its timesteps 1, 1 + 1000/n, ....
// 'diffusers' follows diffusers' timestep_spacing (leading, trailing, linspace) and its img2img truncation.
import { alphasCumprod, sigmaAt, spacedTimesteps, stepsForStrength } from './tables';
import { DiscreteSchedule, appendZero, type InnerModel } from './model-schedule';
import { SCHEDULE_FUNCTIONS } from './schedule-types';
import type { SamplerCreateOptions } from './types';

export interface SigmaPlan {
  /** the run's noise levels, descending (img2img: the tail it runs); usually ends with 0 */
  sigmas: Float64Array;
  /** sigma -> UNet timestep */
  inner: InnerModel;
  /** DPM fast / DPM adaptive take a range and a count instead of a list */
  range: { sigmaMin: number; sigmaMax: number; n: number };
  /** the full schedule's smallest non-zero and largest sigma (the SDE samplers' Brownian tree spans it) */
  fullRange: { sigmaMin: number; sigmaMax: number };
}

export interface SigmaOptions {
  /** the schedule type that runs (Automatic already replaced by the sampler's default where it has one) */
  scheduleType: string;
  discardPenultimate: boolean;
  inner: InnerModel;
}

function fullSigmas(scheduleType: string, n: number, inner: InnerModel, base: Float64Array | null): Float64Array {
  if (scheduleType === 'Automatic' || (base && scheduleType === 'Uniform')) return base ?? inner.getSigmas(n);
  const fn = SCHEDULE_FUNCTIONS[scheduleType];
  if (!fn) throw new Error(`unknown schedule type "${scheduleType}"`);
  const sigmaMin = base ? base[base.length - 2] : inner.sigmaMin;
  const sigmaMax = base ? base[0] : inner.sigmaMax;
  return fn({ n, sigmaMin, sigmaMax, inner });
}

function dropPenultimate(s: Float64Array): Float64Array {
  return Float64Array.from([...s.subarray(0, s.length - 2), s[s.length - 1]]);
}

/** A1111's setup_img2img_steps (img2img_fix_steps off): t_enc = int(min(strength, 0.999) * steps) */
export function a1111EncodeSteps(steps: number, strength: number): number {
  return Math.floor(Math.min(strength, 0.999) * steps);
}

export function sigmaPlan(opts: SamplerCreateOptions, o: SigmaOptions): SigmaPlan {
  const a1111 = (opts.discretization ?? 'diffusers') === 'a1111';
  const n = opts.steps + (o.discardPenultimate ? 1 : 0);
  let base: Float64Array | null = null;
  if (!a1111) {
    const table = DiscreteSchedule.fromConfig(opts.config).sigmas;
    base = appendZero(Array.from(spacedTimesteps(opts.config, n), (t) => sigmaAt(table, t)));
  }
  let full = fullSigmas(o.scheduleType, n, o.inner, base);
  if (o.discardPenultimate) full = dropPenultimate(full);
  let sigmas = full;
  if (opts.strength < 1) {
    const start = a1111 ? opts.steps - a1111EncodeSteps(opts.steps, opts.strength) - 1 : full.length - 1 - stepsForStrength(full.length - 1, opts.strength);
    sigmas = full.slice(Math.max(0, start));
  }
  const range =
    a1111 && opts.strength >= 1
      ? { sigmaMin: o.inner.sigmaMin, sigmaMax: o.inner.sigmaMax, n: opts.steps }
      : { sigmaMin: sigmas[sigmas.length - 2], sigmaMax: sigmas[0], n: sigmas.length - 1 };
  const positive = Array.from(full).filter((v) => v > 0);
  return { sigmas, inner: o.inner, range, fullRange: { sigmaMin: Math.min(...positive), sigmaMax: Math.max(...positive) } };
}

/** A1111's CompVisSampler timesteps: clip(range(0, T, T // n) + 1, 0, T - 1), ascending */
export function a1111Timesteps(T: number, steps: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < T; k += Math.floor(T / steps)) out.push(Math.min(k + 1, T - 1));
  return out;
}

export interface TimestepCallPlan {
  t: number;
  tPrev: number;
  alphaPrev: number;
}

export interface TimestepPlan {
  /** model calls in order, each moving from t to tPrev (alpha-bar alphaPrev) */
  calls: TimestepCallPlan[];
  /** img2img: the timestep whose alpha-bar the init latent is noised to; null for txt2img (pure noise) */
  noiseAt: number | null;
  /** the ascending timestep list the sampler was given (UniPC uses only its length and last entry) */
  scheduled: number[];
}

/** DDIM, DDIM CFG++, PLMS. A1111 runs len - 1 model calls and stops at t = 1 (its loop skips the first entry). */
export function timestepPlan(opts: SamplerCreateOptions): TimestepPlan {
  const acp = alphasCumprod(opts.config);
  const T = opts.config.num_train_timesteps;
  if ((opts.discretization ?? 'diffusers') === 'a1111') {
    const all = a1111Timesteps(T, opts.steps);
    const tEnc = a1111EncodeSteps(opts.steps, opts.strength);
    const scheduled = opts.strength < 1 ? all.slice(0, tEnc) : all;
    const calls: TimestepCallPlan[] = [];
    for (let index = scheduled.length - 1; index >= 1; index--) {
      calls.push({ t: scheduled[index], tPrev: scheduled[index - 1], alphaPrev: acp[scheduled[index - 1]] });
    }
    return { calls, noiseAt: opts.strength < 1 ? all[tEnc] : null, scheduled };
  }
  const spaced = Array.from(spacedTimesteps(opts.config, opts.steps), (t) => Math.round(t));
  const run = stepsForStrength(opts.steps, opts.strength);
  const desc = spaced.slice(opts.steps - run);
  const finalAlpha = opts.config.set_alpha_to_one ? 1 : acp[0];
  const calls = desc.map((t, i) => ({ t, tPrev: desc[i + 1] ?? 0, alphaPrev: i + 1 < desc.length ? acp[desc[i + 1]] : finalAlpha }));
  return { calls, noiseAt: opts.strength < 1 ? desc[0] : null, scheduled: [...desc].reverse() };
}
