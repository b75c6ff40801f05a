// Golden values for every A1111 sampler × schedule type and every schedule type's sigmas, against
// fixtures/samplers-reference.json: an independent numpy/scipy implementation of the published formulas
// (fixtures/samplers-reference.py) driven by an analytic model whose exact denoiser is known.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SAMPLERS, SCHEDULE_TYPES } from '@farm/core';
import {
  SD15_SCHEDULER as C,
  alphasCumprod,
  getSampler,
  DiscreteSchedule,
  LcmSchedule,
  SCHEDULE_FUNCTIONS,
  sigmaPlan,
  KSamplerRun,
  TimestepSamplerRun,
  type SamplerRun,
  type SchedulerConfig,
} from '../src/schedulers';

const ref = JSON.parse(readFileSync(new URL('./fixtures/samplers-reference.json', import.meta.url), 'utf8'));
const MU: number[] = ref.mu;
const S: number = ref.s;
const N0 = Float32Array.from(ref.n0 as number[]);
const acp = alphasCumprod(C);

const closeArrays = (got: ArrayLike<number>, want: number[], rel: number, what: string) => {
  assert.equal(got.length, want.length, `${what}: length ${got.length} vs ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const tol = rel * Math.max(1, Math.abs(want[i]));
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
};

/** the deterministic noise of the reference: call k, element i = sin(1.3 k + 0.7 i + 0.1) */
function sinNoise() {
  let k = 0;
  return {
    randn(n: number) {
      const v = Float32Array.from({ length: n }, (_, i) => Math.sin(1.3 * k + 0.7 * i + 0.1));
      k++;
      return v;
    },
  };
}

/** E[x0 | x] under x = x0 + sigma·n, x0 ~ N(MU, S²) */
const denoise = (x: Float32Array, sigma: number) => Float32Array.from(x, (v, i) => (S * S * v + sigma * sigma * MU[i]) / (S * S + sigma * sigma));
/** E[noise | x_t] under x_t = sqrt(ā) x0 + sqrt(1 - ā) noise */
const epsAlpha = (x: Float32Array, a: number) => Float32Array.from(x, (v, i) => (Math.sqrt(1 - a) * (v - Math.sqrt(a) * MU[i])) / (a * S * S + 1 - a));
/** ā at a (fractional) model timestep, by the continuous VP schedule UniPC uses (exact at integers) */
function alphaBarAt(t: number): number {
  const tc = t / 1000 + 1 / 1000;
  const k = Math.min(998, Math.max(0, Math.floor(tc * 1000 - 1 + 1e-9)));
  const la = (j: number) => 0.5 * Math.log(acp[j]);
  const l = la(k) + ((tc - (k + 1) / 1000) * (la(k + 1) - la(k))) / (1 / 1000);
  return Math.exp(2 * l);
}

type Prediction = 'epsilon' | 'v_prediction';

/** Drives a run with the analytic model; returns the final latent and the number of model calls. */
function drive(run: SamplerRun, prediction: Prediction = 'epsilon'): { x: Float32Array; calls: number; timesteps: number[] } {
  const noise = sinNoise();
  let x = run.initLatent(N0);
  let calls = 0;
  const timesteps: number[] = [];
  while (!run.done) {
    const t = run.nextTimestep();
    timesteps.push(t);
    let out: Float32Array;
    if (run instanceof KSamplerRun) {
      const sigma = run.sigma;
      const d = denoise(x, sigma);
      if (prediction === 'epsilon') out = Float32Array.from(x, (v, i) => (v - d[i]) / sigma);
      else {
        // the model sees x / sqrt(σ²+1) = α x0 + s n with α = 1/sqrt(σ²+1), s = σ α; v = α n - s x0
        const alpha = 1 / Math.sqrt(sigma * sigma + 1);
        out = Float32Array.from(x, (v, i) => alpha * ((v - d[i]) / sigma) - sigma * alpha * d[i]);
      }
    } else {
      assert.ok(run instanceof TimestepSamplerRun);
      const a = alphaBarAt(t);
      const e = epsAlpha(x, a);
      // A1111 converts v back with ā at the truncated timestep (UniPC's are fractional): build v with the same ā
      const at = acp[Math.trunc(t)];
      out =
        prediction === 'epsilon'
          ? e
          : Float32Array.from(x, (v, i) => Math.sqrt(at) * e[i] - Math.sqrt(1 - at) * ((v - Math.sqrt(1 - at) * e[i]) / Math.sqrt(at)));
    }
    x = run.step(out, x, noise, out);
    assert.ok(++calls < 5000, 'the run does not finish');
  }
  return { x, calls, timesteps };
}

test('the reference noise is sin(1.3 k + 0.7 i + 0.1)', () => {
  const n = sinNoise();
  assert.ok(Math.abs(n.randn(4)[2] - Math.sin(0.1 + 1.4)) < 1e-7);
  assert.ok(Math.abs(n.randn(4)[0] - Math.sin(1.3 + 0.1)) < 1e-7);
});

test('k-diffusion SD1.5 Automatic sigmas for 10 steps: t = 999, 888, ..., 0, starting at 14.6146', () => {
  const m = DiscreteSchedule.fromConfig(C);
  const s = m.getSigmas(10);
  assert.ok(Math.abs(s[0] - 14.6146) < 5e-5, `sigma_max ${s[0]}`);
  assert.ok(Math.abs(s[9] - 0.0292) < 5e-5, `sigma_min ${s[9]}`);
  assert.equal(s[10], 0);
  for (let i = 0; i < 10; i++) assert.ok(Math.abs(m.sigmaToT(s[i]) - (999 - 111 * i)) < 1e-6, `t of sigma ${i}`);
});

test("every schedule type reproduces the reference sigmas for SD1.5 (10 and 7 steps, and on LCM's table)", () => {
  const m = DiscreteSchedule.fromConfig(C);
  const lcm = new LcmSchedule(C);
  for (const { label } of SCHEDULE_TYPES) {
    const fn = label === 'Automatic' ? SCHEDULE_FUNCTIONS.Uniform : SCHEDULE_FUNCTIONS[label];
    assert.ok(fn, `no function for ${label}`);
    for (const [n, key, inner] of [
      [10, 'schedules10', m],
      [7, 'schedules7', m],
      [10, 'lcm_schedules10', lcm],
    ] as const) {
      const got = fn({ n, sigmaMin: inner.sigmaMin, sigmaMax: inner.sigmaMax, inner });
      closeArrays(got, ref[key][label], 1e-6, `${label} ${key}`);
    }
  }
});

test('every sampler × schedule type matches the reference (A1111 discretization, 4 steps)', () => {
  for (const { name } of SAMPLERS) {
    for (const { label } of SCHEDULE_TYPES) {
      const run = getSampler(name, label).create({ config: C, steps: ref.steps, strength: 1, discretization: 'a1111' });
      const { x } = drive(run);
      closeArrays(x, ref.samplers[name][label], 2e-5, `${name} / ${label}`);
    }
  }
});

test('Restart at 25 steps rebuilds a Karras schedule and restarts once near sigma 0.1', () => {
  const run = getSampler('Restart').create({ config: C, steps: 25, strength: 1, discretization: 'a1111' });
  closeArrays(drive(run).x, ref.restart25, 2e-5, 'Restart 25');
});

test('v_prediction models give the same result as the equivalent epsilon model, for every sampler', () => {
  const v: SchedulerConfig = { ...C, prediction_type: 'v_prediction' };
  for (const { name } of SAMPLERS) {
    for (const discretization of ['a1111', 'diffusers'] as const) {
      const a = drive(getSampler(name, 'Karras').create({ config: C, steps: 4, strength: 1, discretization })).x;
      const b = drive(getSampler(name, 'Karras').create({ config: v, steps: 4, strength: 1, discretization }), 'v_prediction').x;
      closeArrays(b, Array.from(a), 1e-4, `${name} ${discretization}`);
    }
  }
});

test('A1111 DDIM takes timesteps 1, 101, ..., 901 and makes steps - 1 calls, ending at ā(1); PLMS and UniPC use the same list', () => {
  const ddim = drive(getSampler('DDIM').create({ config: C, steps: 10, strength: 1, discretization: 'a1111' }));
  assert.deepEqual(ddim.timesteps, [901, 801, 701, 601, 501, 401, 301, 201, 101]);
  const plms = drive(getSampler('PLMS').create({ config: C, steps: 10, strength: 1, discretization: 'a1111' }));
  assert.deepEqual(plms.timesteps, [901, 801, 801, 701, 601, 501, 401, 301, 201, 101], 'PLMS: a second call at the next timestep on its first step');
  const unipc = drive(getSampler('UniPC').create({ config: C, steps: 10, strength: 1, discretization: 'a1111' }));
  assert.equal(unipc.calls, 10);
  assert.ok(Math.abs(unipc.timesteps[0] - 999) < 1e-9, 'UniPC starts at t_input = (1 - 1/1000) · 1000');
  // 3 steps: range(0, 1000, 333) has 4 entries, so DDIM makes 3 calls
  assert.equal(drive(getSampler('DDIM').create({ config: C, steps: 3, strength: 1, discretization: 'a1111' })).calls, 3);
});

test('diffusers discretization: leading spacing t = 901, ..., 1 starting at sigma 8.3907; trailing honoured', () => {
  const euler = drive(getSampler('Euler').create({ config: C, steps: 10, strength: 1, discretization: 'diffusers' }));
  euler.timesteps.forEach((t, i) => assert.ok(Math.abs(t - (901 - 100 * i)) < 1e-6, `t ${t}`));
  const run = getSampler('Euler').create({ config: C, steps: 10, strength: 1, discretization: 'diffusers' }) as KSamplerRun;
  run.initLatent(N0);
  assert.ok(Math.abs(run.sigma - 8.3907) < 5e-5, `first sigma ${run.sigma}`);
  const trailing = drive(getSampler('DDIM').create({ config: { ...C, timestep_spacing: 'trailing' }, steps: 10, strength: 1, discretization: 'diffusers' }));
  assert.deepEqual(trailing.timesteps, [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  const linspace = drive(getSampler('Euler').create({ config: { ...C, timestep_spacing: 'linspace' }, steps: 4, strength: 1, discretization: 'diffusers' }));
  linspace.timesteps.forEach((t, i) => assert.ok(Math.abs(t - 999 * (1 - i / 3)) < 1e-6, `linspace t ${t}`));
  // LCM's timesteps come from its 50-step origin schedule (diffusers' LCMScheduler has no spacing either)
  for (const { name } of SAMPLERS.filter((s) => s.name !== 'LCM')) {
    const lead = drive(getSampler(name).create({ config: C, steps: 4, strength: 1, discretization: 'diffusers' }));
    const trail = drive(getSampler(name).create({ config: { ...C, timestep_spacing: 'trailing' }, steps: 4, strength: 1, discretization: 'diffusers' }));
    assert.notDeepEqual(lead.timesteps, trail.timesteps, `${name} honours timestep_spacing`);
  }
});

test('discard_next_to_last_sigma: DPM2 (Karras by default) drops the penultimate of n + 1 Karras sigmas', () => {
  const m = DiscreteSchedule.fromConfig(C);
  const plan = sigmaPlan({ config: C, steps: 4, strength: 1, discretization: 'a1111' }, { scheduleType: 'Karras', discardPenultimate: true, inner: m });
  const k = (i: number) => (m.sigmaMax ** (1 / 7) + (i / 4) * (m.sigmaMin ** (1 / 7) - m.sigmaMax ** (1 / 7))) ** 7;
  closeArrays(plan.sigmas, [k(0), k(1), k(2), k(3), 0], 1e-9, 'DPM2 sigmas');
});

test('A1111 img2img: strength 0.5 of 20 steps runs t_enc + 1 = 11 steps from sigmas[9]', () => {
  const run = getSampler('Euler').create({ config: C, steps: 20, strength: 0.5, discretization: 'a1111' }) as KSamplerRun;
  assert.equal(run.steps, 11);
  const x = run.initLatent(Float32Array.of(1), Float32Array.of(2));
  const full = DiscreteSchedule.fromConfig(C).getSigmas(20);
  assert.ok(Math.abs(x[0] - (2 + full[9])) < 1e-5);
  assert.ok(Math.abs(run.sigma - full[9]) < 1e-9);
  const ddim = drive(getSampler('DDIM').create({ config: C, steps: 20, strength: 0.5, discretization: 'a1111' }));
  assert.deepEqual(ddim.timesteps, [451, 401, 351, 301, 251, 201, 151, 101, 51], 'timesteps[:t_enc], len - 1 calls');
});

test('DDIM CFG++ divides the guidance scale by 12.5 and re-noises along the unconditional prediction', () => {
  const run = getSampler('DDIM CFG++').create({ config: C, steps: 10, strength: 1, discretization: 'a1111' });
  assert.equal(run.cfgMultiplier, 1 / 12.5);
  assert.equal(run.needsUncond, true);
  let x = run.initLatent(Float32Array.of(1));
  const guided = Float32Array.of(0.4);
  const uncond = Float32Array.of(-0.2);
  x = run.step(guided, x, sinNoise(), uncond);
  const a = acp[901];
  const ap = acp[801];
  const x0 = (1 - Math.sqrt(1 - a) * 0.4) / Math.sqrt(a);
  assert.ok(Math.abs(x[0] - (Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * -0.2)) < 1e-6);
});

test('the SDE samplers take their noise from the Brownian hook when the source has one', () => {
  for (const name of ['DPM++ SDE', 'DPM++ 2M SDE', 'DPM++ 2M SDE Heun', 'DPM++ 3M SDE']) {
    const asked: [number, number][] = [];
    const run = getSampler(name).create({ config: C, steps: 4, strength: 1, discretization: 'a1111' });
    let x = run.initLatent(N0);
    const noise = {
      randn: () => {
        throw new Error('randn used');
      },
      brownian: (s: number, sn: number, n: number) => {
        asked.push([s, sn]);
        return new Float32Array(n);
      },
    };
    while (!run.done) x = run.step(new Float32Array(4), x, noise);
    assert.ok(asked.length > 0 && asked.every(([s, sn]) => s > sn && sn > 0), name);
  }
});
