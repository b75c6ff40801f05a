// The model's noise levels as k-diffusion sees them (k_diffusion.external.DiscreteSchedule): the train sigma table,
// sigma <-> timestep by interpolating log-sigma between table entries, and the uniform schedule over timesteps.
// A1111's LCM sampler uses its own 50-entry table with quantized timesteps (LcmSchedule).
import { alphasCumprod } from './tables';
import type { SchedulerConfig } from './types';

/** What the schedule types need from the model (A1111's inner_model). */
export interface InnerModel {
  /** ascending, as k-diffusion stores them: sigmas[0] = sigma_min */
  readonly sigmas: Float64Array;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  sigmaToT(sigma: number): number;
  tToSigma(t: number): number;
  /** n sigmas from sigma_max down to sigma_min, evenly spaced in timestep, plus a final 0 */
  getSigmas(n: number): Float64Array;
}

export function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

export function appendZero(values: ArrayLike<number>): Float64Array {
  const out = new Float64Array(values.length + 1);
  out.set(Array.from(values));
  return out;
}

export class DiscreteSchedule implements InnerModel {
  readonly logSigmas: Float64Array;

  constructor(readonly sigmas: Float64Array) {
    this.logSigmas = sigmas.map(Math.log);
  }

  static fromConfig(config: SchedulerConfig): DiscreteSchedule {
    return new DiscreteSchedule(alphasCumprod(config).map((a) => Math.sqrt((1 - a) / a)));
  }

  get sigmaMin(): number {
    return this.sigmas[0];
  }
  get sigmaMax(): number {
    return this.sigmas[this.sigmas.length - 1];
  }

  /** fractional timestep whose log-sigma interpolates to log(sigma); clamped to the table */
  sigmaToT(sigma: number): number {
    const ls = this.logSigmas;
    const logSigma = Math.log(sigma);
    // low = the last index whose log-sigma is <= log(sigma), at most len - 2
    let low = 0;
    for (let i = 0; i < ls.length; i++) if (logSigma - ls[i] >= 0) low = i;
    low = Math.min(low, ls.length - 2);
    const w = Math.min(1, Math.max(0, (ls[low] - logSigma) / (ls[low] - ls[low + 1])));
    return (1 - w) * low + w * (low + 1);
  }

  tToSigma(t: number): number {
    const lo = Math.floor(t);
    const hi = Math.ceil(t);
    const w = t - lo;
    return Math.exp((1 - w) * this.logSigmas[lo] + w * this.logSigmas[hi]);
  }

  getSigmas(n: number): Float64Array {
    return appendZero(linspace(this.sigmas.length - 1, 0, n).map((t) => this.tToSigma(t)));
  }
}

const LCM_ORIGINAL_STEPS = 50;

/** A1111's LCMCompVisDenoiser: 50 of the train sigmas (t = 19, 39, ..., 999), timesteps quantized to them. */
export class LcmSchedule implements InnerModel {
  readonly skip: number;
  private readonly inner: DiscreteSchedule;

  constructor(config: SchedulerConfig) {
    const all = DiscreteSchedule.fromConfig(config).sigmas;
    const T = config.num_train_timesteps;
    this.skip = Math.floor(T / LCM_ORIGINAL_STEPS);
    const valid = new Float64Array(LCM_ORIGINAL_STEPS);
    for (let k = 0; k < LCM_ORIGINAL_STEPS; k++) valid[LCM_ORIGINAL_STEPS - 1 - k] = all[T - 1 - k * this.skip];
    this.inner = new DiscreteSchedule(valid);
  }

  get sigmas(): Float64Array {
    return this.inner.sigmas;
  }
  get sigmaMin(): number {
    return this.inner.sigmaMin;
  }
  get sigmaMax(): number {
    return this.inner.sigmaMax;
  }

  /** the train timestep of the nearest of the 50 sigmas (in log-sigma) */
  sigmaToT(sigma: number): number {
    const logSigma = Math.log(sigma);
    let best = 0;
    for (let i = 1; i < this.inner.logSigmas.length; i++) {
      if (Math.abs(logSigma - this.inner.logSigmas[i]) < Math.abs(logSigma - this.inner.logSigmas[best])) best = i;
    }
    return best * this.skip + (this.skip - 1);
  }

  tToSigma(t: number): number {
    const k = Math.min(this.sigmas.length - 1, Math.max(0, (t - (this.skip - 1)) / this.skip));
    return this.inner.tToSigma(k);
  }

  getSigmas(n: number): Float64Array {
    const start = this.sigmaToT(this.sigmaMax);
    const end = this.sigmaToT(this.sigmaMin);
    return appendZero(linspace(start, end, n).map((t) => this.tToSigma(t)));
  }
}
