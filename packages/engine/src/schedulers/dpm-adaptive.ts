// DPM adaptive (sample_dpm_adaptive, DPM-Solver-23 with a PID step-size controller): embedded 2nd/3rd-order steps
// in t = -log(sigma); a step is accepted when the scaled error is small enough. A1111 passes eta 1. The error is
// measured per image here (k-diffusion measures it over the whole batch), so a batch gives the same images as singles.
import { ancestralTarget, solver2, solver3, tOf, type EpsCache } from './dpm-solver';
import { lincomb } from './vec';
import type { KSampler } from './sampler-run';

export class PidStepSizeController {
  private readonly b1: number;
  private readonly b2: number;
  private readonly b3: number;
  private errs: number[] = [];

  constructor(
    public h: number,
    p: number,
    i: number,
    d: number,
    order: number,
    private readonly acceptSafety = 0.81,
    private readonly eps = 1e-8,
  ) {
    this.b1 = (p + i + d) / order;
    this.b2 = -(p + 2 * d) / order;
    this.b3 = d / order;
  }

  proposeStep(error: number): boolean {
    const inv = 1 / (error + this.eps);
    if (this.errs.length === 0) this.errs = [inv, inv, inv];
    this.errs[0] = inv;
    let factor = this.errs[0] ** this.b1 * this.errs[1] ** this.b2 * this.errs[2] ** this.b3;
    factor = 1 + Math.atan(factor - 1);
    const accept = factor >= this.acceptSafety;
    if (accept) {
      this.errs[2] = this.errs[1];
      this.errs[1] = this.errs[0];
    }
    this.h *= factor;
    return accept;
  }
}

export const sampleDpmAdaptive: KSampler = function* (x, { noise, range }) {
  const eta = 1;
  const order = 3;
  const rtol = 0.05;
  const atol = 0.0078;
  const tStart = tOf(range.sigmaMax);
  const tEnd = tOf(range.sigmaMin);
  const pid = new PidStepSizeController(0.05, 0, 1, 0, eta ? 1.5 : order);
  let s = tStart;
  let xPrev = x;
  let steps = 0;
  while (s < tEnd - 1e-5) {
    const cache: EpsCache = new Map();
    const t = Math.min(tEnd, s + pid.h);
    const { tTo: tUsed, su } = ancestralTarget(s, t, tEnd, eta);
    const low = yield* solver2(x, s, tUsed, cache, steps, 1 / 3);
    const high = yield* solver3(x, s, tUsed, cache, steps);
    let sq = 0;
    for (let k = 0; k < x.length; k++) {
      const delta = Math.max(atol, rtol * Math.max(Math.abs(low[k]), Math.abs(xPrev[k])));
      sq += ((low[k] - high[k]) / delta) ** 2;
    }
    const error = Math.sqrt(sq) / Math.sqrt(x.length);
    if (pid.proposeStep(error)) {
      xPrev = low;
      x = lincomb([1, high], [su, noise.randn(x.length)]);
      s = t;
    }
    steps++;
  }
  return x;
};
