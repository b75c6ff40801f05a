import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLERS, SCHEDULE_TYPES, UnknownSamplerError, effectiveScheduleType, resolveSamplerName } from '../src';

test('A1111 1.10 lists 20 samplers and 12 schedule types, with their aliases', () => {
  assert.deepEqual(SAMPLERS.map((s) => s.name), ['DPM++ 2M', 'DPM++ SDE', 'DPM++ 2M SDE', 'DPM++ 2M SDE Heun', 'DPM++ 2S a', 'DPM++ 3M SDE',
    'Euler a', 'Euler', 'LMS', 'Heun', 'DPM2', 'DPM2 a', 'DPM fast', 'DPM adaptive', 'Restart', 'DDIM', 'DDIM CFG++', 'PLMS', 'UniPC', 'LCM']);
  assert.deepEqual(SCHEDULE_TYPES.map((s) => s.label), ['Automatic', 'Uniform', 'Karras', 'Exponential', 'Polyexponential', 'SGM Uniform',
    'KL Optimal', 'Align Your Steps', 'Simple', 'Normal', 'DDIM', 'Beta']);
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
  assert.throws(() => resolveSamplerName('Nonexistent'), (e: unknown) => e instanceof UnknownSamplerError && /DPM\+\+ 2M, /.test((e as Error).message));
  assert.throws(() => resolveSamplerName('Euler', 'Sideways'), (e: unknown) => e instanceof UnknownSamplerError && /schedule type Karras/.test((e as Error).message));
});

test('Automatic means the sampler\'s own default schedule type, as A1111 reports it in the infotext', () => {
  assert.equal(effectiveScheduleType('DPM++ 2M', 'Automatic'), 'Karras');
  assert.equal(effectiveScheduleType('DPM++ 3M SDE', 'Automatic'), 'Exponential');
  assert.equal(effectiveScheduleType('Euler', 'Automatic'), 'Automatic');
  assert.equal(effectiveScheduleType('Euler', 'Beta'), 'Beta');
  assert.equal(effectiveScheduleType('DPM++ 2M', 'Uniform'), 'Uniform');
});
