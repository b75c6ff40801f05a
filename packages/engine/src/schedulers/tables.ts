// Noise schedule tables shared by every sampler: betas, cumulative alphas, sigmas, diffusers' timestep spacing, and
// the check of a model's scheduler_config.json keys.
import type { SchedulerConfig } from './types';

export const SD15_SCHEDULER: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  timestep_spacing: 'leading',
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
};

export function betas(c: SchedulerConfig): Float64Array {
  const n = c.num_train_timesteps;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const f = n === 1 ? 0 : i / (n - 1);
    if (c.beta_schedule === 'scaled_linear') {
      const v = Math.sqrt(c.beta_start) + f * (Math.sqrt(c.beta_end) - Math.sqrt(c.beta_start));
      out[i] = v * v;
    } else if (c.beta_schedule === 'linear') {
      out[i] = c.beta_start + f * (c.beta_end - c.beta_start);
    } else {
      throw new Error(`unsupported beta_schedule "${c.beta_schedule}"; supported: ${BETA_SCHEDULES.join(', ')}`);
    }
  }
  return out;
}

export function alphasCumprod(c: SchedulerConfig): Float64Array {
  const b = betas(c);
  const out = new Float64Array(b.length);
  let acc = 1;
  for (let i = 0; i < b.length; i++) out[i] = acc *= 1 - b[i];
  return out;
}

/** sigma_t = sqrt((1 - alphā_t) / alphā_t) for t = 0..T-1 */
export function trainSigmas(c: SchedulerConfig): Float64Array {
  return alphasCumprod(c).map((a) => Math.sqrt((1 - a) / a));
}

/** Timesteps (descending) for `steps` inference steps under the config's timestep_spacing. */
export function spacedTimesteps(c: SchedulerConfig, steps: number): Float64Array {
  const T = c.num_train_timesteps;
  const spacing = c.timestep_spacing ?? 'leading';
  const out = new Float64Array(steps);
  if (spacing === 'leading') {
    const ratio = Math.floor(T / steps);
    for (let i = 0; i < steps; i++) out[i] = Math.round((steps - 1 - i) * ratio) + (c.steps_offset ?? 0);
  } else if (spacing === 'trailing') {
    const ratio = T / steps;
    for (let i = 0; i < steps; i++) out[i] = Math.round(T - i * ratio) - 1;
  } else if (spacing === 'linspace') {
    for (let i = 0; i < steps; i++) out[i] = (T - 1) * (1 - (steps === 1 ? 0 : i / (steps - 1)));
  } else {
    throw new Error(`unsupported timestep_spacing "${spacing}"; supported: ${TIMESTEP_SPACINGS.join(', ')}`);
  }
  return out;
}

/** Linear interpolation of the train sigma table at a (fractional) timestep. */
export function sigmaAt(table: Float64Array, t: number): number {
  const lo = Math.max(0, Math.min(table.length - 1, Math.floor(t)));
  const hi = Math.min(table.length - 1, lo + 1);
  const w = t - lo;
  return table[lo] * (1 - w) + table[hi] * w;
}

/** Number of steps an img2img run of `steps` at `strength` takes (at least 1). */
export function stepsForStrength(steps: number, strength: number): number {
  if (strength >= 1) return steps;
  return Math.max(1, Math.min(steps, Math.floor(steps * strength)));
}

export const BETA_SCHEDULES = ['scaled_linear', 'linear'] as const;
export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;
export const PREDICTION_TYPES = ['epsilon', 'v_prediction'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

/** The config's prediction type (epsilon when absent). */
export function predictionType(c: SchedulerConfig): PredictionType {
  return (c.prediction_type ?? 'epsilon') as PredictionType;
}

/** Returns what is wrong with a scheduler config the samplers cannot honour, or null when every key is supported. */
export function schedulerConfigProblem(c: SchedulerConfig): string | null {
  const check = (key: string, value: unknown, allowed: readonly string[]) =>
    value === undefined || allowed.includes(value as string) ? null : `${key} "${String(value)}" is not supported; supported: ${allowed.join(', ')}`;
  return (
    check('prediction_type', c.prediction_type, PREDICTION_TYPES) ??
    check('timestep_spacing', c.timestep_spacing, TIMESTEP_SPACINGS) ??
    check('beta_schedule', c.beta_schedule, BETA_SCHEDULES) ??
    (Number.isInteger(c.num_train_timesteps) && c.num_train_timesteps >= 2
      ? null
      : `num_train_timesteps must be an integer of at least 2, got ${String(c.num_train_timesteps)}`)
  );
}
