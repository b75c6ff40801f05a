// k-diffusion's DPMSolver steps (https://arxiv.org/abs/2206.00927) in t = -log(sigma), shared by DPM fast and DPM
// adaptive. eps(x, t) = (x - D(x; sigma(t))) / sigma(t); each step caches the evaluations it shares with the others.
import { ancestralStep } from './ancestral';
import { lincomb } from './vec';
import type { SigmaCall } from './sampler-run';

export const sigmaOf = (t: number) => Math.exp(-t);
export const tOf = (sigma: number) => -Math.log(sigma);

/** Evaluations of one outer step, keyed as k-diffusion's eps_cache ('eps', 'eps_r1', 'eps_r2'). */
export type EpsCache = Map<string, Float32Array>;
type Ask = Generator<SigmaCall, Float32Array, Float32Array>;

export function* eps(cache: EpsCache, key: string, x: Float32Array, t: number, step: number): Ask {
  const hit = cache.get(key);
  if (hit) return hit;
  const s = sigmaOf(t);
  const denoised = yield { x, sigma: s, step };
  const e = lincomb([1 / s, x], [-1 / s, denoised]);
  cache.set(key, e);
  return e;
}

export function* solver1(x: Float32Array, t: number, tNext: number, cache: EpsCache, step: number): Ask {
  const h = tNext - t;
  const e = yield* eps(cache, 'eps', x, t, step);
  return lincomb([1, x], [-sigmaOf(tNext) * Math.expm1(h), e]);
}

export function* solver2(x: Float32Array, t: number, tNext: number, cache: EpsCache, step: number, r1 = 1 / 2): Ask {
  const h = tNext - t;
  const e = yield* eps(cache, 'eps', x, t, step);
  const s1 = t + r1 * h;
  const u1 = lincomb([1, x], [-sigmaOf(s1) * Math.expm1(r1 * h), e]);
  const e1 = yield* eps(cache, 'eps_r1', u1, s1, step);
  const k = sigmaOf(tNext) * Math.expm1(h);
  return lincomb([1, x], [-k, e], [-k / (2 * r1), e1], [k / (2 * r1), e]);
}

export function* solver3(x: Float32Array, t: number, tNext: number, cache: EpsCache, step: number, r1 = 1 / 3, r2 = 2 / 3): Ask {
  const h = tNext - t;
  const e = yield* eps(cache, 'eps', x, t, step);
  const s1 = t + r1 * h;
  const s2 = t + r2 * h;
  const u1 = lincomb([1, x], [-sigmaOf(s1) * Math.expm1(r1 * h), e]);
  const e1 = yield* eps(cache, 'eps_r1', u1, s1, step);
  const c2 = sigmaOf(s2) * (r2 / r1) * (Math.expm1(r2 * h) / (r2 * h) - 1);
  const u2 = lincomb([1, x], [-sigmaOf(s2) * Math.expm1(r2 * h), e], [-c2, e1], [c2, e]);
  const e2 = yield* eps(cache, 'eps_r2', u2, s2, step);
  const k = sigmaOf(tNext) * Math.expm1(h);
  const c3 = (sigmaOf(tNext) / r2) * (Math.expm1(h) / h - 1);
  return lincomb([1, x], [-k, e], [-c3, e2], [c3, e]);
}

/** With eta > 0, step only to the ancestral sigma_down (not past tEnd) and add noise of su afterwards. */
export function ancestralTarget(t: number, tNext: number, tEnd: number, eta: number): { tTo: number; su: number } {
  if (!eta) return { tTo: tNext, su: 0 };
  const { down } = ancestralStep(sigmaOf(t), sigmaOf(tNext), eta);
  const tTo = Math.min(tEnd, tOf(down));
  return { tTo, su: Math.sqrt(Math.max(0, sigmaOf(tNext) ** 2 - sigmaOf(tTo) ** 2)) };
}
