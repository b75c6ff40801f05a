// A1111 1.10's schedule types (modules/sd_schedulers.py and k-diffusion's get_sigmas_*): each turns a step count
// and the model's noise range into a descending sigma list. Most end with a 0; KL Optimal ends at sigma_min and
// DDIM may give a different number of steps than asked, exactly as in A1111.
import { betaPpf } from './beta-distribution';
import { appendZero, linspace, type InnerModel } from './model-schedule';

export interface ScheduleArgs {
  n: number;
  sigmaMin: number;
  sigmaMax: number;
  inner: InnerModel;
}

export type ScheduleFn = (a: ScheduleArgs) => Float64Array;

/** A1111's defaults for the options the schedule types read (opts.rho, beta_dist_alpha, beta_dist_beta). */
export const BETA_DIST_ALPHA = 0.6;
export const BETA_DIST_BETA = 0.6;

/** Align Your Steps' published SD1.5 sigmas (NVIDIA), as A1111 ships them for non-SDXL models. */
export const AYS_SD15 = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029];

export function karras({ n, sigmaMin, sigmaMax }: ScheduleArgs, rho = 7): Float64Array {
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return appendZero(linspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho));
}

export function exponential({ n, sigmaMin, sigmaMax }: ScheduleArgs): Float64Array {
  return appendZero(linspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp));
}

export function polyexponential({ n, sigmaMin, sigmaMax }: ScheduleArgs, rho = 1): Float64Array {
  const lo = Math.log(sigmaMin);
  const hi = Math.log(sigmaMax);
  return appendZero(linspace(1, 0, n).map((r) => Math.exp(r ** rho * (hi - lo) + lo)));
}

export function sgmUniform({ n, sigmaMin, sigmaMax, inner }: ScheduleArgs): Float64Array {
  const ts = linspace(inner.sigmaToT(sigmaMax), inner.sigmaToT(sigmaMin), n + 1).slice(0, -1);
  return appendZero(ts.map((t) => inner.tToSigma(t)));
}

export function klOptimal({ n, sigmaMin, sigmaMax }: ScheduleArgs): Float64Array {
  const aMin = Math.atan(sigmaMin);
  const aMax = Math.atan(sigmaMax);
  return Float64Array.from({ length: n + 1 }, (_, i) => Math.tan((i / n) * aMin + (1 - i / n) * aMax));
}

/** log-linear interpolation of a decreasing list to n entries (the AYS paper's recipe) */
export function loglinearInterp(values: number[], n: number): number[] {
  const ys = [...values].reverse().map(Math.log);
  const xs = linspace(0, 1, ys.length);
  const out = linspace(0, 1, n).map((x) => {
    let k = 0;
    while (k < xs.length - 2 && x > xs[k + 1]) k++;
    const w = (x - xs[k]) / (xs[k + 1] - xs[k]);
    return Math.exp(ys[k] + w * (ys[k + 1] - ys[k]));
  });
  return out.reverse();
}

export function alignYourSteps({ n }: ScheduleArgs): Float64Array {
  return appendZero(n === AYS_SD15.length ? AYS_SD15 : loglinearInterp(AYS_SD15, n));
}

export function simple({ n, inner }: ScheduleArgs): Float64Array {
  const len = inner.sigmas.length;
  const ss = len / n;
  return appendZero(Array.from({ length: n }, (_, x) => inner.sigmas[len - 1 - Math.floor(x * ss)]));
}

export function normal({ n, sigmaMin, sigmaMax, inner }: ScheduleArgs): Float64Array {
  return appendZero(linspace(inner.sigmaToT(sigmaMax), inner.sigmaToT(sigmaMin), n).map((t) => inner.tToSigma(t)));
}

export function ddimUniform({ n, inner }: ScheduleArgs): Float64Array {
  const len = inner.sigmas.length;
  const ss = Math.max(Math.floor(len / n), 1);
  const picked: number[] = [];
  for (let x = 1; x < len; x += ss) picked.push(inner.sigmas[x]);
  return appendZero(picked.reverse());
}

export function beta({ n, sigmaMin, sigmaMax }: ScheduleArgs, a = BETA_DIST_ALPHA, b = BETA_DIST_BETA): Float64Array {
  return appendZero(linspace(0, 1, n).map((x) => sigmaMin + betaPpf(1 - x, a, b) * (sigmaMax - sigmaMin)));
}

export function uniform({ n, inner }: ScheduleArgs): Float64Array {
  return inner.getSigmas(n);
}

/** By A1111 label; Automatic is not here (it means the sampler's default, or the model's uniform schedule). */
export const SCHEDULE_FUNCTIONS: Record<string, ScheduleFn> = {
  Uniform: uniform,
  Karras: (a) => karras(a),
  Exponential: exponential,
  Polyexponential: (a) => polyexponential(a),
  'SGM Uniform': sgmUniform,
  'KL Optimal': klOptimal,
  'Align Your Steps': alignYourSteps,
  Simple: simple,
  Normal: normal,
  DDIM: ddimUniform,
  Beta: (a) => beta(a),
};
