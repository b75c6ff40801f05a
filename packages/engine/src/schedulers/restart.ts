// Restart (A1111's restart_sampler, "Restart Sampling for Improving Generative Processes", 2023): Heun steps; from
// 20 steps on, the schedule is rebuilt as Karras sigmas with fewer steps, and on reaching sigma ≈ 0.1 the run jumps
// back up to sigma ≈ 2 (fresh noise) and descends again over restart_steps, once (twice from 36 steps).
import { karras } from './schedule-types';
import { lincomb, toD } from './vec';
import type { InnerModel } from './model-schedule';
import type { KSampler } from './sampler-run';

const argminAbs = (values: ArrayLike<number>, target: number) => {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (Math.abs(values[i] - target) < Math.abs(values[best] - target)) best = i;
  return best;
};

/** karras() without the model (it does not use it) */
const karrasOnly = (n: number, sigmaMin: number, sigmaMax: number) => karras({ n, sigmaMin, sigmaMax, inner: null as unknown as InnerModel });

/** The (from, to) sigma pairs the restart sampler walks, given the run's sigmas. */
export function restartStepList(input: Float64Array): [number, number][] {
  let sigmas = input;
  const steps = sigmas.length - 1;
  const restarts = new Map<number, [number, number, number]>();
  if (steps >= 20) {
    let restartSteps = 9;
    let restartTimes = 1;
    if (steps >= 36) {
      restartSteps = Math.floor(steps / 4);
      restartTimes = 2;
    }
    sigmas = karrasOnly(steps - restartSteps * restartTimes, sigmas[sigmas.length - 2], sigmas[0]);
    restarts.set(argminAbs(sigmas, 0.1), [restartSteps + 1, restartTimes, 2]);
  }
  const list: [number, number][] = [];
  for (let i = 0; i < sigmas.length - 1; i++) {
    list.push([sigmas[i], sigmas[i + 1]]);
    const restart = restarts.get(i + 1);
    if (restart) {
      const [restartSteps, restartTimesAll, restartMax] = restart;
      const minIdx = i + 1;
      const maxIdx = argminAbs(sigmas, restartMax);
      if (maxIdx < minIdx) {
        const up = karrasOnly(restartSteps, sigmas[minIdx], sigmas[maxIdx]).slice(0, -1);
        for (let k = 0; k < restartTimesAll; k++) for (let j = 0; j < up.length - 1; j++) list.push([up[j], up[j + 1]]);
      }
    }
  }
  return list;
}

export const sampleRestart: KSampler = function* (x, { sigmas, noise }) {
  const list = restartStepList(sigmas);
  let last: number | null = null;
  for (let i = 0; i < list.length; i++) {
    const [from, to] = list[i];
    if (last !== null && last < from) x = lincomb([1, x], [Math.sqrt(from ** 2 - last ** 2), noise.randn(x.length)]);
    const d = toD(x, from, yield { x, sigma: from, step: i });
    const dt = to - from;
    if (to === 0) {
      x = lincomb([1, x], [dt, d]);
    } else {
      const x2 = lincomb([1, x], [dt, d]);
      const d2 = toD(x2, to, yield { x: x2, sigma: to, step: i });
      x = lincomb([1, x], [dt / 2, d], [dt / 2, d2]);
    }
    last = to;
  }
  return x;
};
