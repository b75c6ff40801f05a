// Binds A1111's sampler names (the list in @farm/core) to their implementations and builds a run for a request.
import { SAMPLERS, effectiveScheduleType, resolveSamplerName, samplerNames, scheduleTypes, type SamplerName } from '@farm/core';
import { DiscreteSchedule, LcmSchedule } from './model-schedule';
import { sigmaPlan, timestepPlan, a1111Timesteps, a1111EncodeSteps } from './discretization';
import { KSamplerRun, TimestepSamplerRun, type KSampler, type TimestepSampler } from './sampler-run';
import { predictionType, spacedTimesteps, stepsForStrength } from './tables';
import { sampleEuler } from './euler';
import { sampleEulerAncestral } from './euler-ancestral';
import { sampleLms } from './lms';
import { sampleHeun } from './heun';
import { sampleDpm2 } from './dpm2';
import { sampleDpm2Ancestral } from './dpm2-ancestral';
import { sampleDpmpp2sAncestral } from './dpmpp-2s-ancestral';
import { sampleDpmpp2m } from './dpmpp-2m';
import { sampleDpmppSde } from './dpmpp-sde';
import { sampleDpmpp2mSde } from './dpmpp-2m-sde';
import { sampleDpmpp2mSdeHeun } from './dpmpp-2m-sde-heun';
import { sampleDpmpp3mSde } from './dpmpp-3m-sde';
import { sampleDpmFast } from './dpm-fast';
import { sampleDpmAdaptive } from './dpm-adaptive';
import { sampleRestart } from './restart';
import { sampleLcm, lcmScalings, lcmTimesteps, diffusersLcm } from './lcm';
import { ddim } from './ddim';
import { ddimCfgpp, CFGPP_SCALE_MULTIPLIER } from './ddim-cfgpp';
import { plms } from './plms';
import { unipc } from './unipc';
import { lincomb } from './vec';
import type { SamplerCreateOptions, SamplerRun, SamplerSpec } from './types';

const K_SAMPLERS: Record<string, KSampler> = {
  'DPM++ 2M': sampleDpmpp2m,
  'DPM++ SDE': sampleDpmppSde,
  'DPM++ 2M SDE': sampleDpmpp2mSde,
  'DPM++ 2M SDE Heun': sampleDpmpp2mSdeHeun,
  'DPM++ 2S a': sampleDpmpp2sAncestral,
  'DPM++ 3M SDE': sampleDpmpp3mSde,
  'Euler a': sampleEulerAncestral,
  Euler: sampleEuler,
  LMS: sampleLms,
  Heun: sampleHeun,
  DPM2: sampleDpm2,
  'DPM2 a': sampleDpm2Ancestral,
  'DPM fast': sampleDpmFast,
  'DPM adaptive': sampleDpmAdaptive,
  Restart: sampleRestart,
};

function kRun(meta: SamplerName, fn: KSampler, opts: SamplerCreateOptions): SamplerRun {
  const inner = DiscreteSchedule.fromConfig(opts.config);
  const plan = sigmaPlan(opts, {
    scheduleType: effectiveScheduleType(meta.name, opts.scheduleType ?? 'Automatic'),
    discardPenultimate: meta.options.discard_next_to_last_sigma ?? false,
    inner,
  });
  return new KSamplerRun({
    sampler: fn,
    sigmas: plan.sigmas,
    inner,
    range: plan.range,
    prediction: predictionType(opts.config),
    steps: plan.sigmas.length - 1,
    ...(meta.options.brownian_noise ? { brownianRange: plan.fullRange } : {}),
  });
}

function lcmRun(opts: SamplerCreateOptions): SamplerRun {
  if ((opts.discretization ?? 'diffusers') === 'diffusers') {
    const all = lcmTimesteps(opts.config.num_train_timesteps, Math.min(opts.steps, 50));
    const ts = all.slice(all.length - stepsForStrength(all.length, opts.strength));
    return new TimestepSamplerRun({ sampler: diffusersLcm(ts), config: opts.config, steps: ts.length, noiseAt: opts.strength < 1 ? ts[0] : null });
  }
  const inner = new LcmSchedule(opts.config);
  const plan = sigmaPlan(opts, { scheduleType: effectiveScheduleType('LCM', opts.scheduleType ?? 'Automatic'), discardPenultimate: false, inner });
  return new KSamplerRun({
    sampler: sampleLcm,
    sigmas: plan.sigmas,
    inner,
    range: plan.range,
    prediction: predictionType(opts.config),
    steps: plan.sigmas.length - 1,
    postprocess: (denoised, x, sigma) => {
      const { cSkip, cOut } = lcmScalings(inner.sigmaToT(sigma));
      return lincomb([cOut, denoised], [cSkip, x]);
    },
  });
}

function timestepRun(name: string, opts: SamplerCreateOptions): SamplerRun {
  const plan = timestepPlan(opts);
  const make: Record<string, () => TimestepSampler> = {
    DDIM: () => ddim(plan.calls),
    'DDIM CFG++': () => ddimCfgpp(plan.calls),
    PLMS: () => plms(plan.calls),
  };
  return new TimestepSamplerRun({
    sampler: make[name](),
    config: opts.config,
    steps: plan.calls.length,
    noiseAt: plan.noiseAt,
    ...(name === 'DDIM CFG++' ? { cfgMultiplier: CFGPP_SCALE_MULTIPLIER, needsUncond: true } : {}),
  });
}

function unipcRun(opts: SamplerCreateOptions): SamplerRun {
  const T = opts.config.num_train_timesteps;
  let times: number[];
  let noiseAt: number | null = null;
  if ((opts.discretization ?? 'diffusers') === 'a1111') {
    const all = a1111Timesteps(T, opts.steps);
    const tEnc = a1111EncodeSteps(opts.steps, opts.strength);
    const scheduled = opts.strength < 1 ? all.slice(0, tEnc) : all;
    if (opts.strength < 1) noiseAt = all[tEnc];
    const tStart = opts.strength < 1 ? scheduled[scheduled.length - 1] / T + 1 / T : 1;
    const n = scheduled.length;
    times = Array.from({ length: n + 1 }, (_, i) => tStart + ((1 / T - tStart) * i) / n);
  } else {
    const spaced = Array.from(spacedTimesteps(opts.config, opts.steps), (t) => Math.round(t));
    const desc = spaced.slice(opts.steps - stepsForStrength(opts.steps, opts.strength));
    if (opts.strength < 1) noiseAt = desc[0];
    times = [...desc.map((t) => (t + 1) / T), 1 / T];
  }
  return new TimestepSamplerRun({ sampler: unipc(times), config: opts.config, steps: times.length - 1, noiseAt });
}

function create(meta: SamplerName, opts: SamplerCreateOptions): SamplerRun {
  const k = K_SAMPLERS[meta.name];
  if (k) return kRun(meta, k, opts);
  if (meta.name === 'LCM') return lcmRun(opts);
  if (meta.name === 'UniPC') return unipcRun(opts);
  return timestepRun(meta.name, opts);
}

const SPECS: SamplerSpec[] = SAMPLERS.map((meta) => ({ name: meta.name, aliases: [...meta.aliases], create: (o: SamplerCreateOptions) => create(meta, o) }));

/** /sdapi/v1/samplers: [{name, aliases, options}] in A1111's order */
export function listSamplers() {
  return samplerNames();
}

/** /sdapi/v1/schedulers: [{name, label, aliases, default_rho, need_inner_model}] in A1111's order */
export function listSchedulers() {
  return scheduleTypes();
}

/**
 * Resolves an A1111 sampler name (or alias, or a pre-1.9 name with a schedule suffix such as "DPM++ 2M Karras") and
 * schedule type; throws UnknownSamplerError naming the valid ones. The returned spec creates runs with that schedule
 * type unless the caller passes another.
 */
export function getSampler(name: string, scheduler = 'Automatic'): SamplerSpec {
  const resolved = resolveSamplerName(name, scheduler);
  const spec = SPECS.find((s) => s.name === resolved.sampler)!;
  return { ...spec, create: (o) => spec.create({ ...o, scheduleType: o.scheduleType ?? resolved.scheduler }) };
}

/** Infotext fields that say what ran: the schedule type A1111 reports (Automatic resolved to the sampler's default) and the discretization. */
export function samplerInfotext(
  p: { sampler: string; scheduler: string; discretization?: string },
  config: { timestep_spacing?: string },
): Record<string, string> {
  const discretization = (p.discretization ?? 'diffusers') === 'a1111' ? 'A1111' : `diffusers ${config.timestep_spacing ?? 'leading'}`;
  return { 'Schedule type': effectiveScheduleType(p.sampler, p.scheduler), Discretization: discretization };
}
