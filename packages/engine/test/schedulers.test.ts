import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnknownSamplerError } from '@farm/core';
import { NumpyRandomState } from '../src/rng';
import {
  SD15_SCHEDULER as C, alphasCumprod, trainSigmas, spacedTimesteps, karrasSigmas, getSampler, listSamplers, ancestralSigmas, lmsCoefficient, lcmTimesteps,
} from '../src/schedulers';

const near = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('SD1.5 tables follow the scaled_linear formula', () => {
  const acp = alphasCumprod(C);
  near(acp[0], 1 - 0.00085, 1e-12, 'first alpha bar');
  let prod = 1;
  for (let i = 0; i < 1000; i++) {
    const b = (Math.sqrt(0.00085) + (i / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2;
    prod *= 1 - b;
  }
  near(acp[999], prod, 1e-12, 'last alpha bar');
  const sigmas = trainSigmas(C);
  near(sigmas[999], 14.6146, 1e-3, 'sigma_max');
  near(sigmas[0], 0.0292, 1e-4, 'sigma_min');
});

test('leading spacing with steps_offset 1 gives 951, 901, ..., 1 for 20 steps', () => {
  assert.deepEqual(Array.from(spacedTimesteps(C, 20)), Array.from({ length: 20 }, (_, i) => 951 - 50 * i));
  const trailing = spacedTimesteps({ ...C, timestep_spacing: 'trailing' }, 10);
  assert.equal(trailing[0], 999);
});

test('Karras sigmas run from sigma_max to sigma_min, monotonically', () => {
  const s = karrasSigmas(0.0292, 14.6146, 10);
  near(s[0], 14.6146, 1e-9, 'start');
  near(s[9], 0.0292, 1e-9, 'end');
  for (let i = 1; i < s.length; i++) assert.ok(s[i] < s[i - 1]);
  // the midpoint in rho-space: ((max^(1/7) + min^(1/7)) / 2)^7 for an odd count
  const k = karrasSigmas(0.0292, 14.6146, 3);
  near(k[1], ((14.6146 ** (1 / 7) + 0.0292 ** (1 / 7)) / 2) ** 7, 1e-9, 'middle');
});

const vec = (...v: number[]) => Float32Array.from(v);
const zeroNoise = { randn: (n: number) => new Float32Array(n) };

test('one Euler step is x + eps * (sigma_next - sigma)', () => {
  const run = getSampler('Euler').create({ config: C, steps: 20, strength: 1 });
  const sigmas = trainSigmas(C);
  const s0 = sigmas[951];
  const s1 = sigmas[901];
  const out = run.step(vec(0.5, -1), vec(2, 3), zeroNoise);
  near(out[0], 2 + 0.5 * (s1 - s0), 1e-4, 'x0');
  near(out[1], 3 - 1 * (s1 - s0), 1e-4, 'x1');
  assert.equal(run.stepIndex, 1);
});

test('one Euler a step splits sigma_next into down and up parts and adds noise of sigma_up', () => {
  const { down, up } = ancestralSigmas(2, 1);
  near(up, Math.sqrt((1 * (4 - 1)) / 4), 1e-12, 'up');
  near(down ** 2 + up ** 2, 1, 1e-12, 'down^2 + up^2 = sigma_next^2');
  const run = getSampler('Euler a').create({ config: C, steps: 10, strength: 1 });
  const sigmas = trainSigmas(C);
  const s = ancestralSigmas(sigmas[901], sigmas[801]);
  const out = run.step(vec(1), vec(0), { randn: () => vec(2) });
  near(out[0], 1 * (s.down - sigmas[901]) + 2 * s.up, 1e-4, 'euler a');
});

test('DPM++ 2M first step is the exponential-integrator update, later steps use the previous x0', () => {
  const run = getSampler('DPM++ 2M').create({ config: C, steps: 10, strength: 1 });
  const sigmas = trainSigmas(C);
  const [s0, s1, s2] = [sigmas[901], sigmas[801], sigmas[701]];
  const x = 1;
  const eps = 0.5;
  const d0 = x - s0 * eps;
  const h0 = Math.log(s0) - Math.log(s1);
  const x1 = (s1 / s0) * x - Math.expm1(-h0) * d0;
  const out1 = run.step(vec(eps), vec(x), zeroNoise);
  near(out1[0], x1, 1e-5, 'first step');
  const eps1 = 0.25;
  const d1 = x1 - s1 * eps1;
  const h1 = Math.log(s1) - Math.log(s2);
  const r = h0 / h1;
  const x2 = (s2 / s1) * x1 - Math.expm1(-h1) * ((1 + 1 / (2 * r)) * d1 - (1 / (2 * r)) * d0);
  near(run.step(vec(eps1), out1, zeroNoise)[0], x2, 1e-5, 'second step');
});

test('DDIM step predicts x0 and re-noises it to the previous timestep', () => {
  const run = getSampler('DDIM').create({ config: C, steps: 10, strength: 1 });
  const acp = alphasCumprod(C);
  const a = acp[901];
  const ap = acp[801];
  const x0 = (1 - Math.sqrt(1 - a) * 0.3) / Math.sqrt(a);
  near(run.step(vec(0.3), vec(1), zeroNoise)[0], Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * 0.3, 1e-5, 'ddim');
});

test('LMS coefficients integrate the Lagrange basis (first order: the interval length)', () => {
  const s = Float64Array.of(10, 6, 3, 1, 0);
  near(lmsCoefficient(s, 1, 0, 0), -4, 1e-12, 'order 1');
  // order 2 at t=1: ∫_6^3 (τ-10)/(6-10) dτ and ∫_6^3 (τ-6)/(10-6) dτ
  near(lmsCoefficient(s, 2, 1, 0), ((3 - 10) ** 2 - (6 - 10) ** 2) / 2 / -4, 1e-12, 'order 2, j=0');
  near(lmsCoefficient(s, 2, 1, 1), ((3 - 6) ** 2 - 0) / 2 / 4, 1e-12, 'order 2, j=1');
});

test('LCM picks its timesteps from the 50-step origin schedule', () => {
  // origin [19, 39, ..., 999] reversed, every floor(50 / 4) = 12th
  assert.deepEqual(lcmTimesteps(1000, 4), [999, 759, 519, 279]);
});

test('every sampler driven by an oracle model converges to the clean sample', () => {
  const clean = vec(0.8, -0.3, 0.1, 1.2);
  for (const { name } of listSamplers()) {
    const run = getSampler(name).create({ config: C, steps: name === 'LCM' ? 4 : 30, strength: 1 });
    const rng = new NumpyRandomState(3);
    let x: Float32Array = run.initLatent(rng.randn(4));
    const acp = alphasCumprod(C);
    let calls = 0;
    while (!run.done) {
      const t = run.nextTimestep();
      const scaled = run.scaleInput(x);
      // an epsilon model that knows x0: in k-space eps = (x - x0) / sigma; in DDPM space the same identity holds
      const at = acp[Math.round(t)];
      const isK = scaled !== x;
      // k-samplers scale by 1/sqrt(sigma^2 + 1): read their exact (possibly Karras) sigma back from that
      const big = x.reduce((best, v, i) => (Math.abs(v) > Math.abs(x[best]) ? i : best), 0);
      const sigma = isK ? Math.sqrt(Math.max(0, (x[big] / scaled[big]) ** 2 - 1)) : 0;
      const eps = isK
        ? Float32Array.from(x, (v, i) => (v - clean[i]) / Math.max(sigma, 1e-6))
        : Float32Array.from(x, (v, i) => (v - Math.sqrt(at) * clean[i]) / Math.sqrt(1 - at));
      x = run.step(eps, x, rng);
      assert.ok(++calls < 200, `${name} does not finish`);
    }
    // DDIM ends at alphā_0 (set_alpha_to_one false), so sqrt(1 - alphā_0) ≈ 0.03 of the initial noise remains
    const tol = name === 'DDIM' ? 0.1 : name === 'LCM' ? 0.05 : 0.02;
    clean.forEach((c, i) => near(x[i], c, tol, `${name}[${i}]`));
  }
});

test('Euler a with the same seeded noise is deterministic', () => {
  const go = () => {
    const run = getSampler('Euler a').create({ config: C, steps: 8, strength: 1 });
    const rng = new NumpyRandomState(11);
    let x: Float32Array = run.initLatent(rng.randn(16));
    while (!run.done) x = run.step(Float32Array.from(x, (v) => v * 0.1), x, rng);
    return x;
  };
  assert.deepEqual(go(), go());
});

test('img2img at strength 0.5 of 20 steps runs 10 steps from the middle of the schedule', () => {
  for (const name of ['Euler', 'Euler a', 'DDIM', 'DPM++ 2M Karras', 'Heun', 'LMS']) {
    const run = getSampler(name).create({ config: C, steps: 20, strength: 0.5 });
    assert.equal(run.steps, 10, name);
  }
  const euler = getSampler('Euler').create({ config: C, steps: 20, strength: 0.5 });
  assert.equal(euler.nextTimestep(), 451);
  const init = vec(1, 2);
  const noised = euler.initLatent(vec(1, 1), init);
  near(noised[0] - 1, trainSigmas(C)[451], 1e-5, 'init + sigma_start * noise');
});

test('Heun makes two model calls per step except the last', () => {
  const run = getSampler('Heun').create({ config: C, steps: 5, strength: 1 });
  let calls = 0;
  let x: Float32Array = vec(1);
  while (!run.done) { x = run.step(vec(0.1), x, zeroNoise); calls++; }
  assert.equal(calls, 2 * 5 - 1);
});

test('A1111 names, aliases, schedule types and errors', () => {
  assert.equal(getSampler('euler A').name, 'Euler a');
  assert.equal(getSampler('k_dpmpp_2m').name, 'DPM++ 2M');
  assert.equal(getSampler('DPM++ 2M', 'Karras').name, 'DPM++ 2M Karras');
  assert.equal(getSampler('DPM++ 2M Karras', 'Uniform').name, 'DPM++ 2M');
  assert.throws(() => getSampler('Nonexistent'), (e: unknown) => e instanceof UnknownSamplerError && /Euler a/.test((e as Error).message));
  assert.throws(() => getSampler('Euler', 'Sideways'), UnknownSamplerError);
  assert.throws(() => getSampler('DDIM', 'Karras'), UnknownSamplerError);
});

test('one DPM++ SDE step: ancestral half step to the geometric midpoint, then a full step with the midpoint x0', () => {
  const run = getSampler('DPM++ SDE').create({ config: C, steps: 20, strength: 1 });
  const sigmas = trainSigmas(C);
  const s0 = sigmas[951];
  const s1 = sigmas[901];
  const mid = Math.sqrt(s0 * s1);
  const x = 2;
  const eps = 0.5;
  // first call at s0: x0 = x - s0*eps; to sigma_down of (s0 -> mid): (down/s0)*x + (1 - down/s0)*x0, plus up * z
  const a = ancestralSigmas(s0, mid);
  const x0 = x - s0 * eps;
  const x2 = (a.down / s0) * x + (1 - a.down / s0) * x0 + a.up * 1;
  const first = run.step(vec(eps), vec(x), { randn: () => vec(1) });
  near(first[0], x2, 1e-4, 'midpoint x');
  assert.equal(run.stepIndex, 0);
  assert.ok(run.nextTimestep() < 951 && run.nextTimestep() > 901, 'midpoint timestep lies between');
  near(run.scaleInput(vec(1))[0], 1 / Math.sqrt(mid ** 2 + 1), 1e-6, 'midpoint input scaling');
  // second call at mid: x0' = x2 - mid*eps2; from the step's start x to sigma_down of (s0 -> s1)
  const eps2 = -0.25;
  const b = ancestralSigmas(s0, s1);
  const x0b = x2 - mid * eps2;
  const second = run.step(vec(eps2), first, { randn: () => vec(-1) });
  near(second[0], (b.down / s0) * x + (1 - b.down / s0) * x0b - b.up, 1e-4, 'full step');
  assert.equal(run.stepIndex, 1);
});

test('DPM++ SDE names, Karras schedule type and two calls per step except the last', () => {
  assert.equal(getSampler('DPM++ SDE', 'Karras').name, 'DPM++ SDE Karras');
  assert.equal(getSampler('k_dpmpp_sde_ka').name, 'DPM++ SDE Karras');
  const run = getSampler('DPM++ SDE Karras').create({ config: C, steps: 5, strength: 1 });
  let calls = 0;
  let x: Float32Array = vec(1);
  while (!run.done) { x = run.step(vec(0.1), x, zeroNoise); calls++; }
  assert.equal(calls, 2 * 5 - 1);
  assert.equal(getSampler('DPM++ SDE').create({ config: C, steps: 20, strength: 0.5 }).steps, 10);
});
