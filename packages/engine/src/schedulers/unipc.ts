// UniPC (A1111's modules/models/diffusion/uni_pc with its defaults: variant bh1, multistep, data prediction,
// order 3, lower_order_final, time_uniform): a predictor-corrector on the continuous-time VP schedule whose
// log-alpha interpolates the discrete table linearly; the model is called at t_input = (t - 1/N) · N.
import { lincomb } from './vec';
import type { TimestepSampler } from './sampler-run';

/** NoiseScheduleVP('discrete'): log alpha_t by piecewise-linear interpolation over t_i = (i + 1) / N */
export class DiscreteVpSchedule {
  private readonly logAlpha: Float64Array;
  readonly N: number;

  constructor(acp: Float64Array) {
    this.N = acp.length;
    this.logAlpha = acp.map((a) => 0.5 * Math.log(a));
  }

  /** interpolate_fn: linear inside, extended by the outermost segments outside */
  logMeanCoeff(t: number): number {
    const k = Math.min(this.N - 2, Math.max(0, Math.floor(t * this.N - 1)));
    const x0 = (k + 1) / this.N;
    const x1 = (k + 2) / this.N;
    return this.logAlpha[k] + ((t - x0) * (this.logAlpha[k + 1] - this.logAlpha[k])) / (x1 - x0);
  }

  alpha(t: number): number {
    return Math.exp(this.logMeanCoeff(t));
  }
  std(t: number): number {
    return Math.sqrt(1 - Math.exp(2 * this.logMeanCoeff(t)));
  }
  lambda(t: number): number {
    const l = this.logMeanCoeff(t);
    return l - 0.5 * Math.log(1 - Math.exp(2 * l));
  }
  modelTime(t: number): number {
    return (t - 1 / this.N) * this.N;
  }
}

/** Solves a small dense system (Gaussian elimination with partial pivoting). */
export function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row.slice(0, n), b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

/** B(h) = h coefficients of UniPC-bh1 for an update of the given order (rks: ratios of past lambda steps, then 1) */
export function unipcCoefficients(rks: number[], hh: number, order: number): { rhosP: number[]; rhosC: number[] } {
  const hPhi1 = Math.expm1(hh);
  let hPhiK = hPhi1 / hh - 1;
  let factorial = 1;
  const R: number[][] = [];
  const b: number[] = [];
  for (let i = 1; i <= order; i++) {
    R.push(rks.map((r) => r ** (i - 1)));
    b.push((hPhiK * factorial) / hh);
    factorial *= i + 1;
    hPhiK = hPhiK / hh - 1 / factorial;
  }
  const rhosP =
    order === 2
      ? [0.5]
      : order > 2
        ? solve(
            R.slice(0, -1).map((row) => row.slice(0, -1)),
            b.slice(0, -1),
          )
        : [];
  const rhosC = order === 1 ? [0.5] : solve(R, b);
  return { rhosP, rhosC };
}

/** times: t_T down to t_0 (steps + 1 continuous times in (0, 1]) */
export function unipc(times: number[], maxOrder = 3): TimestepSampler {
  return function* (x, { acp }) {
    const ns = new DiscreteVpSchedule(acp);
    const steps = times.length - 1;
    const order = Math.max(1, Math.min(maxOrder, steps));
    let calls = 0;
    function* dataPrediction(xIn: Float32Array, t: number) {
      const { eps } = yield { x: xIn, t: ns.modelTime(t), step: Math.max(0, calls++ - 1) };
      return lincomb([1 / ns.alpha(t), xIn], [-ns.std(t) / ns.alpha(t), eps]);
    }
    function* update(xIn: Float32Array, models: Float32Array[], ts: number[], t: number, o: number, corrector: boolean) {
      const tPrev0 = ts[ts.length - 1];
      const model0 = models[models.length - 1];
      const h = ns.lambda(t) - ns.lambda(tPrev0);
      const rks: number[] = [];
      const D1s: Float32Array[] = [];
      for (let i = 1; i < o; i++) {
        const rk = (ns.lambda(ts[ts.length - 1 - i]) - ns.lambda(tPrev0)) / h;
        rks.push(rk);
        D1s.push(lincomb([1 / rk, models[models.length - 1 - i]], [-1 / rk, model0]));
      }
      rks.push(1);
      const hh = -h;
      const { rhosP, rhosC } = unipcCoefficients(rks, hh, o);
      const alphaT = ns.alpha(t);
      const base = lincomb([ns.std(t) / ns.std(tPrev0), xIn], [-alphaT * Math.expm1(hh), model0]);
      const k = alphaT * hh;
      let xt = D1s.length > 0 ? lincomb([1, base], ...D1s.map((d, i): [number, Float32Array] => [-k * rhosP[i], d])) : base;
      let modelT: Float32Array | null = null;
      if (corrector) {
        modelT = yield* dataPrediction(xt, t);
        xt = lincomb(
          [1, base],
          ...D1s.map((d, i): [number, Float32Array] => [-k * rhosC[i], d]),
          [-k * rhosC[rhosC.length - 1], modelT],
          [k * rhosC[rhosC.length - 1], model0],
        );
      }
      return { xt, modelT };
    }
    const models: Float32Array[] = [yield* dataPrediction(x, times[0])];
    const ts: number[] = [times[0]];
    for (let initOrder = 1; initOrder < order; initOrder++) {
      const t = times[initOrder];
      const r = yield* update(x, models, ts, t, initOrder, true);
      x = r.xt;
      models.push(r.modelT ?? (yield* dataPrediction(x, t)));
      ts.push(t);
    }
    for (let step = order; step <= steps; step++) {
      const t = times[step];
      const stepOrder = Math.min(order, steps + 1 - step);
      const r = yield* update(x, models, ts, t, stepOrder, step !== steps);
      x = r.xt;
      for (let i = 0; i < order - 1; i++) {
        ts[i] = ts[i + 1];
        models[i] = models[i + 1];
      }
      ts[ts.length - 1] = t;
      if (step < steps) models[models.length - 1] = r.modelT ?? (yield* dataPrediction(x, t));
    }
    return x;
  };
}
