import { test } from 'vitest';
import assert from 'node:assert/strict';
import { SAMPLERS, SCHEDULE_TYPES, UnknownSamplerError, a1111SamplerItems, effectiveScheduleType, resolveSamplerName, samplerTotalSteps } from '../src';

test('A1111 1.10 lists 20 samplers and 12 schedule types, with their aliases', () => {
  assert.deepEqual(
    SAMPLERS.map((s) => s.name),
    [
      'DPM++ 2M',
      'DPM++ SDE',
      'DPM++ 2M SDE',
      'DPM++ 2M SDE Heun',
      'DPM++ 2S a',
      'DPM++ 3M SDE',
      'Euler a',
      'Euler',
      'LMS',
      'Heun',
      'DPM2',
      'DPM2 a',
      'DPM fast',
      'DPM adaptive',
      'Restart',
      'DDIM',
      'DDIM CFG++',
      'PLMS',
      'UniPC',
      'LCM',
    ],
  );
  assert.deepEqual(
    SCHEDULE_TYPES.map((s) => s.label),
    ['Automatic', 'Uniform', 'Karras', 'Exponential', 'Polyexponential', 'SGM Uniform', 'KL Optimal', 'Align Your Steps', 'Simple', 'Normal', 'DDIM', 'Beta'],
  );
});

test('names, aliases and pre-1.9 "<sampler> <schedule>" names resolve to A1111 labels', () => {
  assert.deepEqual(resolveSamplerName('euler A'), { sampler: 'Euler a', scheduler: 'Automatic' });
  assert.deepEqual(resolveSamplerName('k_euler_ancestral', 'karras'), { sampler: 'Euler a', scheduler: 'Karras' });
  assert.deepEqual(resolveSamplerName('DPM++ 2M Karras'), { sampler: 'DPM++ 2M', scheduler: 'Karras' });
  assert.deepEqual(resolveSamplerName('DPM++ 2M Karras', 'Exponential'), { sampler: 'DPM++ 2M', scheduler: 'Exponential' });
  assert.deepEqual(resolveSamplerName('DPM++ 2M SDE Heun'), { sampler: 'DPM++ 2M SDE Heun', scheduler: 'Automatic' });
  assert.deepEqual(resolveSamplerName('DPM++ SDE Karras'), { sampler: 'DPM++ SDE', scheduler: 'Karras' });
  assert.deepEqual(resolveSamplerName('Euler', 'SGMUniform'), { sampler: 'Euler', scheduler: 'SGM Uniform' });
  assert.deepEqual(resolveSamplerName('LMS', 'align_your_steps'), { sampler: 'LMS', scheduler: 'Align Your Steps' });
});

test('unknown samplers and schedule types are refused naming the valid ones', () => {
  assert.throws(
    () => resolveSamplerName('Nonexistent'),
    (e: unknown) => e instanceof UnknownSamplerError && /DPM\+\+ 2M, /.test((e as Error).message),
  );
  assert.throws(
    () => resolveSamplerName('Euler', 'Sideways'),
    (e: unknown) => e instanceof UnknownSamplerError && /schedule type Karras/.test((e as Error).message),
  );
});

test("Automatic means the sampler's own default schedule type, as A1111 reports it in the infotext", () => {
  assert.equal(effectiveScheduleType('DPM++ 2M', 'Automatic'), 'Karras');
  assert.equal(effectiveScheduleType('DPM++ 3M SDE', 'Automatic'), 'Exponential');
  assert.equal(effectiveScheduleType('Euler', 'Automatic'), 'Automatic');
  assert.equal(effectiveScheduleType('Euler', 'Beta'), 'Beta');
  assert.equal(effectiveScheduleType('DPM++ 2M', 'Uniform'), 'Uniform');
});

test("/sdapi/v1/samplers items equal a real A1111 server's answer (published, 1.9: without DDIM CFG++, which 1.10 added after DDIM)", () => {
  const T = 'True';
  const published = [
    ['DPM++ 2M', ['k_dpmpp_2m'], { scheduler: 'karras' }],
    ['DPM++ SDE', ['k_dpmpp_sde'], { scheduler: 'karras', second_order: T, brownian_noise: T }],
    ['DPM++ 2M SDE', ['k_dpmpp_2m_sde'], { scheduler: 'exponential', brownian_noise: T }],
    ['DPM++ 2M SDE Heun', ['k_dpmpp_2m_sde_heun'], { scheduler: 'exponential', brownian_noise: T, solver_type: 'heun' }],
    ['DPM++ 2S a', ['k_dpmpp_2s_a'], { scheduler: 'karras', uses_ensd: T, second_order: T }],
    ['DPM++ 3M SDE', ['k_dpmpp_3m_sde'], { scheduler: 'exponential', discard_next_to_last_sigma: T, brownian_noise: T }],
    ['Euler a', ['k_euler_a', 'k_euler_ancestral'], { uses_ensd: T }],
    ['Euler', ['k_euler'], {}],
    ['LMS', ['k_lms'], {}],
    ['Heun', ['k_heun'], { second_order: T }],
    ['DPM2', ['k_dpm_2'], { scheduler: 'karras', discard_next_to_last_sigma: T, second_order: T }],
    ['DPM2 a', ['k_dpm_2_a'], { scheduler: 'karras', discard_next_to_last_sigma: T, uses_ensd: T, second_order: T }],
    ['DPM fast', ['k_dpm_fast'], { uses_ensd: T }],
    ['DPM adaptive', ['k_dpm_ad'], { uses_ensd: T }],
    ['Restart', ['restart'], { scheduler: 'karras', second_order: T }],
    ['DDIM', ['ddim'], {}],
    ['PLMS', ['plms'], {}],
    ['UniPC', ['unipc'], {}],
    ['LCM', ['k_lcm'], {}],
  ].map(([name, aliases, options]) => ({ name, aliases, options }));
  const ours = a1111SamplerItems();
  assert.deepEqual(
    JSON.stringify(ours.filter((s) => s.name !== 'DDIM CFG++')),
    JSON.stringify(published),
    'same names, order, aliases and options (key order too)',
  );
  assert.deepEqual(ours[ours.findIndex((s) => s.name === 'DDIM') + 1], { name: 'DDIM CFG++', aliases: ['ddim_cfgpp'], options: {} });
});

test("total steps of the prompt schedule: twice the steps for A1111's second-order samplers", () => {
  const doubled = SAMPLERS.filter((s) => samplerTotalSteps(s.name, 10) === 20).map((s) => s.name);
  assert.deepEqual(doubled, ['DPM++ SDE', 'DPM++ 2S a', 'Heun', 'DPM2', 'DPM2 a', 'Restart']);
  assert.equal(samplerTotalSteps('DPM++ SDE Karras', 5), 10);
});
