// A1111 1.10's sampler and schedule-type names: the one list the gateway validates against, /sdapi/v1/samplers and
// /schedulers answer with, and the engine binds its sampler implementations to. Pure data, no math.
import { UnknownSamplerError } from './errors';

/** A1111's SamplerData options, as /sdapi/v1/samplers reports them. */
export interface SamplerOptions {
  scheduler?: string;
  second_order?: boolean;
  brownian_noise?: boolean;
  discard_next_to_last_sigma?: boolean;
  uses_ensd?: boolean;
  solver_type?: string;
}

export interface SamplerName {
  name: string;
  aliases: string[];
  options: SamplerOptions;
}

/** In A1111's order: k-diffusion samplers, then the timestep samplers, then LCM. */
export const SAMPLERS: readonly SamplerName[] = [
  { name: 'DPM++ 2M', aliases: ['k_dpmpp_2m'], options: { scheduler: 'karras' } },
  { name: 'DPM++ SDE', aliases: ['k_dpmpp_sde'], options: { scheduler: 'karras', second_order: true, brownian_noise: true } },
  { name: 'DPM++ 2M SDE', aliases: ['k_dpmpp_2m_sde'], options: { scheduler: 'exponential', brownian_noise: true } },
  { name: 'DPM++ 2M SDE Heun', aliases: ['k_dpmpp_2m_sde_heun'], options: { scheduler: 'exponential', brownian_noise: true, solver_type: 'heun' } },
  { name: 'DPM++ 2S a', aliases: ['k_dpmpp_2s_a'], options: { scheduler: 'karras', uses_ensd: true, second_order: true } },
  { name: 'DPM++ 3M SDE', aliases: ['k_dpmpp_3m_sde'], options: { scheduler: 'exponential', discard_next_to_last_sigma: true, brownian_noise: true } },
  { name: 'Euler a', aliases: ['k_euler_a', 'k_euler_ancestral'], options: { uses_ensd: true } },
  { name: 'Euler', aliases: ['k_euler'], options: {} },
  { name: 'LMS', aliases: ['k_lms'], options: {} },
  { name: 'Heun', aliases: ['k_heun'], options: { second_order: true } },
  { name: 'DPM2', aliases: ['k_dpm_2'], options: { scheduler: 'karras', discard_next_to_last_sigma: true, second_order: true } },
  { name: 'DPM2 a', aliases: ['k_dpm_2_a'], options: { scheduler: 'karras', discard_next_to_last_sigma: true, uses_ensd: true, second_order: true } },
  { name: 'DPM fast', aliases: ['k_dpm_fast'], options: { uses_ensd: true } },
  { name: 'DPM adaptive', aliases: ['k_dpm_ad'], options: { uses_ensd: true } },
  { name: 'Restart', aliases: ['restart'], options: { scheduler: 'karras', second_order: true } },
  { name: 'DDIM', aliases: ['ddim'], options: {} },
  { name: 'DDIM CFG++', aliases: ['ddim_cfgpp'], options: {} },
  { name: 'PLMS', aliases: ['plms'], options: {} },
  { name: 'UniPC', aliases: ['unipc'], options: {} },
  { name: 'LCM', aliases: ['k_lcm'], options: {} },
];

export interface ScheduleTypeName {
  name: string;
  label: string;
  aliases: string[] | null;
  default_rho: number;
  need_inner_model: boolean;
}

/** A1111 1.10's modules/sd_schedulers.py list, in its order. */
export const SCHEDULE_TYPES: readonly ScheduleTypeName[] = [
  { name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false },
  { name: 'uniform', label: 'Uniform', aliases: null, default_rho: -1, need_inner_model: true },
  { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false },
  { name: 'exponential', label: 'Exponential', aliases: null, default_rho: -1, need_inner_model: false },
  { name: 'polyexponential', label: 'Polyexponential', aliases: null, default_rho: 1, need_inner_model: false },
  { name: 'sgm_uniform', label: 'SGM Uniform', aliases: ['SGMUniform'], default_rho: -1, need_inner_model: true },
  { name: 'kl_optimal', label: 'KL Optimal', aliases: null, default_rho: -1, need_inner_model: false },
  { name: 'align_your_steps', label: 'Align Your Steps', aliases: null, default_rho: -1, need_inner_model: false },
  { name: 'simple', label: 'Simple', aliases: null, default_rho: -1, need_inner_model: true },
  { name: 'normal', label: 'Normal', aliases: null, default_rho: -1, need_inner_model: true },
  { name: 'ddim', label: 'DDIM', aliases: null, default_rho: -1, need_inner_model: true },
  { name: 'beta', label: 'Beta', aliases: null, default_rho: -1, need_inner_model: true },
];

const key = (s: string) => s.trim().toLowerCase();

function findSampler(name: string): SamplerName | undefined {
  const k = key(name);
  return SAMPLERS.find((s) => key(s.name) === k || s.aliases.some((a) => key(a) === k));
}

function findScheduleType(name: string): ScheduleTypeName | undefined {
  const k = key(name);
  return SCHEDULE_TYPES.find((s) => key(s.label) === k || key(s.name) === k || (s.aliases ?? []).some((a) => key(a) === k));
}

/**
 * A1111's get_sampler_and_scheduler without its silent fallbacks: a name may carry a schedule type as a suffix
 * ("DPM++ 2M Karras", the pre-1.9 names), names and aliases match case-insensitively, and an unknown sampler or
 * schedule type throws UnknownSamplerError listing the valid ones (A1111 would quietly use its default). The
 * result uses A1111's labels. A suffix only fills the schedule type when none (or Automatic) was asked for.
 */
export function resolveSamplerName(sampler: string, scheduler = 'Automatic'): { sampler: string; scheduler: string } {
  let spec = findSampler(sampler);
  let fromSuffix: ScheduleTypeName | undefined;
  if (!spec) {
    for (const s of SCHEDULE_TYPES) {
      for (const option of [s.label, s.name, ...(s.aliases ?? [])]) {
        const suffix = ` ${key(option)}`;
        if (key(sampler).endsWith(suffix)) {
          const base = findSampler(sampler.trim().slice(0, -suffix.length));
          if (base) {
            spec = base;
            fromSuffix = s;
          }
        }
      }
    }
  }
  if (!spec)
    throw new UnknownSamplerError(
      sampler,
      SAMPLERS.map((s) => s.name),
    );
  const asked = findScheduleType(scheduler);
  if (!asked)
    throw new UnknownSamplerError(
      `${spec.name} with schedule type "${scheduler}"`,
      SCHEDULE_TYPES.map((s) => `schedule type ${s.label}`),
    );
  const schedule = fromSuffix && asked.name === 'automatic' ? fromSuffix : asked;
  return { sampler: spec.name, scheduler: schedule.label };
}

/**
 * The schedule type that actually runs: Automatic means the sampler's own default (A1111's options.scheduler,
 * e.g. Karras for DPM++ 2M), or Automatic itself (k-diffusion's uniform timesteps) when it has none.
 */
export function effectiveScheduleType(sampler: string, scheduler: string): string {
  const { sampler: name, scheduler: label } = resolveSamplerName(sampler, scheduler);
  if (label !== 'Automatic') return label;
  const preferred = findSampler(name)!.options.scheduler;
  return preferred ? findScheduleType(preferred)!.label : 'Automatic';
}

export function samplerNames(): SamplerName[] {
  return SAMPLERS.map((s) => ({ name: s.name, aliases: [...s.aliases], options: { ...s.options } }));
}

export function scheduleTypes(): ScheduleTypeName[] {
  return SCHEDULE_TYPES.map((s) => ({ ...s, aliases: s.aliases ? [...s.aliases] : null }));
}

/** /sdapi/v1/samplers as A1111 answers it: its SamplerItem model is options: dict[str, str], so True becomes "True". */
export function a1111SamplerItems(): { name: string; aliases: string[]; options: Record<string, string> }[] {
  const py = (v: unknown) => (v === true ? 'True' : v === false ? 'False' : String(v));
  return SAMPLERS.map((s) => ({ name: s.name, aliases: [...s.aliases], options: Object.fromEntries(Object.entries(s.options).map(([k, v]) => [k, py(v)])) }));
}

/**
 * A1111's SamplerData.total_steps: the prompt schedule (prompt editing, alternation) of a second-order sampler spans
 * twice the steps, since A1111 advances it once per model call and these samplers call the model twice a step.
 */
export function samplerTotalSteps(sampler: string, steps: number): number {
  const spec = findSampler(resolveSamplerName(sampler).sampler);
  return spec?.options.second_order ? steps * 2 : steps;
}
