// Samplers are written as generators, the way k-diffusion writes them as loops: `const denoised = yield { x, sigma,
// step }` asks for one model evaluation. These adapters turn such a generator into the pipeline's SamplerRun
// (nextTimestep / scaleInput / step), so any number of model calls per step, restarts and adaptive step sizes fit.
import { alphasCumprod, predictionType, type PredictionType } from './tables';
import { denoisedFromOutput, epsFromOutput } from './prediction';
import type { InnerModel } from './model-schedule';
import { scaled } from './vec';
import type { SamplerNoise, SamplerRun } from './types';

/** A k-diffusion-style model call: the denoiser D(x; sigma), answered with the predicted x0. */
export interface SigmaCall {
  x: Float32Array;
  sigma: number;
  step: number;
}

export interface KContext {
  /** descending noise levels of the run */
  sigmas: Float64Array;
  /** the image's noise (set before each resume) */
  noise: SamplerNoise;
  range: { sigmaMin: number; sigmaMax: number; n: number };
}

export type KSampler = (x: Float32Array, ctx: KContext) => Generator<SigmaCall, Float32Array, Float32Array>;

/** Forwards to the noise source of the current `step` call. */
class NoiseProxy implements SamplerNoise {
  current: SamplerNoise | null = null;
  randn(n: number): Float32Array {
    if (!this.current) throw new Error('sampler noise used before the first step');
    return this.current.randn(n);
  }
  brownian(sigma: number, sigmaNext: number, n: number): Float32Array {
    if (!this.current) throw new Error('sampler noise used before the first step');
    return this.current.brownian ? this.current.brownian(sigma, sigmaNext, n) : this.current.randn(n);
  }
}

abstract class GeneratorRun<Call extends { x: Float32Array; step: number }, Answer> {
  protected gen: Generator<Call, Float32Array, Answer> | null = null;
  protected pending: Call | null = null;
  protected readonly noise = new NoiseProxy();
  private finished = false;

  constructor(readonly steps: number) {}

  get stepIndex(): number {
    return this.finished ? this.steps : Math.min(this.pending?.step ?? 0, Math.max(0, this.steps - 1));
  }
  get done(): boolean {
    return this.finished;
  }

  protected start(gen: Generator<Call, Float32Array, Answer>): Float32Array {
    this.gen = gen;
    return this.advance(gen.next());
  }

  protected resume(answer: Answer, noise: SamplerNoise): Float32Array {
    if (!this.gen || !this.pending) throw new Error('step() called on a finished or unstarted sampler run');
    this.noise.current = noise;
    return this.advance(this.gen.next(answer));
  }

  private advance(r: IteratorResult<Call, Float32Array>): Float32Array {
    if (r.done) {
      this.pending = null;
      this.finished = true;
      return r.value;
    }
    this.pending = r.value;
    return r.value.x;
  }
}

export interface KRunOptions {
  sampler: KSampler;
  sigmas: Float64Array;
  inner: InnerModel;
  range: KContext['range'];
  prediction: PredictionType;
  /** the user-visible step count (progress) */
  steps: number;
  /** the full schedule's sigma range, for the SDE samplers' Brownian tree */
  brownianRange?: { sigmaMin: number; sigmaMax: number };
  /** wraps the model's x0 (LCM's consistency scalings) */
  postprocess?: (denoised: Float32Array, x: Float32Array, sigma: number) => Float32Array;
}

/** Runs a k-diffusion sampler: x lives in sigma space, the model sees x / sqrt(sigma² + 1) at t = sigma_to_t(sigma). */
export class KSamplerRun extends GeneratorRun<SigmaCall, Float32Array> implements SamplerRun {
  readonly brownianRange?: { sigmaMin: number; sigmaMax: number };

  constructor(private readonly o: KRunOptions) {
    super(o.steps);
    this.brownianRange = o.brownianRange;
  }

  initLatent(noise: Float32Array, init?: Float32Array): Float32Array {
    const s0 = this.o.sigmas[0];
    const x = Float32Array.from(noise, (v, i) => (init ? init[i] : 0) + v * s0);
    return this.start(this.o.sampler(x, { sigmas: this.o.sigmas, noise: this.noise, range: this.o.range }));
  }

  /** the noise level of the next model call (diagnostics and tests) */
  get sigma(): number {
    return this.pending!.sigma;
  }

  nextTimestep(): number {
    return this.o.inner.sigmaToT(this.pending!.sigma);
  }

  scaleInput(x: Float32Array): Float32Array {
    return scaled(x, 1 / Math.sqrt(this.pending!.sigma ** 2 + 1));
  }

  step(modelOutput: Float32Array, _x: Float32Array, noise: SamplerNoise): Float32Array {
    const { x, sigma } = this.pending!;
    let denoised = denoisedFromOutput(this.o.prediction, modelOutput, x, sigma);
    if (this.o.postprocess) denoised = this.o.postprocess(denoised, x, sigma);
    return this.resume(denoised, noise);
  }
}

/** A timestep sampler's model call: x in alpha space at an integer (UniPC: fractional) timestep. */
export interface TimestepCall {
  x: Float32Array;
  t: number;
  step: number;
}
export interface EpsAnswer {
  eps: Float32Array;
  uncondEps?: Float32Array;
}
export type TimestepSampler = (x: Float32Array, ctx: { noise: SamplerNoise; acp: Float64Array }) => Generator<TimestepCall, Float32Array, EpsAnswer>;

export interface TimestepRunOptions {
  sampler: TimestepSampler;
  config: import('./types').SchedulerConfig;
  steps: number;
  /** img2img: noise the init latent to this timestep's alpha-bar */
  noiseAt: number | null;
  cfgMultiplier?: number;
  needsUncond?: boolean;
}

/** Runs a sampler that works on the model's own timesteps (DDIM, PLMS, UniPC, diffusers' LCM): no input scaling. */
export class TimestepSamplerRun extends GeneratorRun<TimestepCall, EpsAnswer> implements SamplerRun {
  private readonly acp: Float64Array;
  private readonly prediction: PredictionType;
  readonly cfgMultiplier?: number;
  readonly needsUncond?: boolean;

  constructor(private readonly o: TimestepRunOptions) {
    super(o.steps);
    this.acp = alphasCumprod(o.config);
    this.prediction = predictionType(o.config);
    this.cfgMultiplier = o.cfgMultiplier;
    this.needsUncond = o.needsUncond;
  }

  initLatent(noise: Float32Array, init?: Float32Array): Float32Array {
    let x = Float32Array.from(noise);
    if (init && this.o.noiseAt !== null) {
      const a = this.acp[this.o.noiseAt];
      x = Float32Array.from(noise, (v, i) => Math.sqrt(a) * init[i] + Math.sqrt(1 - a) * v);
    }
    return this.start(this.o.sampler(x, { noise: this.noise, acp: this.acp }));
  }

  nextTimestep(): number {
    return this.pending!.t;
  }
  scaleInput(x: Float32Array): Float32Array {
    return x;
  }

  step(modelOutput: Float32Array, _x: Float32Array, noise: SamplerNoise, uncond?: Float32Array): Float32Array {
    const { x, t } = this.pending!;
    const a = this.acp[Math.min(this.acp.length - 1, Math.max(0, Math.trunc(t)))];
    const eps = epsFromOutput(this.prediction, modelOutput, x, a);
    const uncondEps = uncond ? epsFromOutput(this.prediction, uncond, x, a) : undefined;
    return this.resume({ eps, uncondEps }, noise);
  }
}
