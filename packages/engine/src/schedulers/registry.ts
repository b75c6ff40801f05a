// A1111 sampler and schedule-type names -> samplers. Lookups ignore case; k-diffusion ids are aliases.
import { UnknownSamplerError } from '@farm/core';
import { euler } from './euler-discrete';
import { eulerAncestral } from './euler-ancestral-discrete';
import { dpmpp2m, dpmpp2mKarras } from './dpm-solver-multistep';
import { dpmppSde, dpmppSdeKarras } from './dpm-solver-sde';
import { heun } from './heun-discrete';
import { ddim } from './ddim';
import { lms, lmsKarras } from './lms-discrete';
import { lcm } from './lcm';
import type { SamplerSpec } from './types';

const SAMPLERS: SamplerSpec[] = [euler, eulerAncestral, dpmpp2m, dpmpp2mKarras, dpmppSde, dpmppSdeKarras, heun, ddim, lms, lmsKarras, lcm];
/** which samplers have a Karras-sigma twin, for A1111 >= 1.9's separate "Schedule type" */
const KARRAS_TWIN: Record<string, SamplerSpec> = { 'DPM++ 2M': dpmpp2mKarras, 'DPM++ SDE': dpmppSdeKarras, LMS: lmsKarras };
const SCHEDULERS = ['Automatic', 'Uniform', 'Karras'] as const;

export function listSamplers(): { name: string; aliases: string[]; options: Record<string, string> }[] {
  return SAMPLERS.map((s) => ({ name: s.name, aliases: s.aliases, options: (s.name.endsWith('Karras') ? { scheduler: 'karras' } : {}) as Record<string, string> }));
}

export function listSchedulers(): { name: string; label: string }[] {
  return SCHEDULERS.map((s) => ({ name: s.toLowerCase(), label: s }));
}

function find(name: string): SamplerSpec | undefined {
  const key = name.trim().toLowerCase();
  return SAMPLERS.find((s) => s.name.toLowerCase() === key || s.aliases.includes(key));
}

/** Resolves an A1111 sampler_name (and optional scheduler) to a sampler; throws UnknownSamplerError naming the valid ones. */
export function getSampler(name: string, scheduler: string = 'Automatic'): SamplerSpec {
  const spec = find(name);
  if (!spec) throw new UnknownSamplerError(name, SAMPLERS.map((s) => s.name));
  const schedule = SCHEDULERS.find((s) => s.toLowerCase() === scheduler.trim().toLowerCase());
  if (!schedule) throw new UnknownSamplerError(`${name} with schedule type ${scheduler}`, SCHEDULERS.map((s) => `schedule type ${s}`));
  if (schedule === 'Karras') {
    const twin = spec.name.endsWith('Karras') ? spec : KARRAS_TWIN[spec.name];
    if (!twin) throw new UnknownSamplerError(`${spec.name} with schedule type Karras`, [...Object.keys(KARRAS_TWIN), ...SAMPLERS.filter((s) => s.name.endsWith('Karras')).map((s) => s.name)]);
    return twin;
  }
  if (schedule === 'Uniform' && spec.name.endsWith(' Karras')) return find(spec.name.replace(/ Karras$/, ''))!;
  return spec;
}
