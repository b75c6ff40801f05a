// The engine: validates a batch of compatible requests, runs text encoding, the batched denoising loop and the VAE,
// and returns PNGs with A1111 infotext. Sessions come from a provider so LoRA-merged variants slot in.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ValidationError, type GenerationParams, type LoraRef } from '@farm/core';
import { NumpyRandomState } from './rng';
import { getSampler } from './schedulers';
import { ModelRegistry, type ModelInfo } from './models/model-registry';
import { SessionCache, type ExecutionProvider } from './onnx/session-cache';
import { encodePromptPair } from './pipeline/text-encoding';
import { denoise, type ExtraFeeds, type Row } from './pipeline/denoise';
import { decodeImage, encodePng, rgbToTensor, tensorToRgb } from './pipeline/images';
import { addPngText, buildInfotext } from './png';
import { extractLoraTags, mergeLoraRefs } from '@farm/core';
import { createControlNetPlanner } from './controlnet/controlnet-runner';
import { listLoras as scanLoras } from './lora/registry';
import { buildMergedNetworks } from './lora/merged-model';
import { UnknownLoraError } from '@farm/core';

export const LATENT_SCALE = 0.18215;

export interface EngineOptions {
  modelsDir: string;
  loraDir?: string;
  providers?: ExecutionProvider[];
  maxPixels: number;
  maxSteps: number;
  intraOpThreads?: number;
  maxCachedSessions?: number;
  /** sharp's limitInputPixels for init and control images */
  maxInputPixels?: number;
}

export interface EngineItem { id: string; params: GenerationParams }
export interface EngineItemResult { id: string; images: Buffer[]; seeds: number[]; infotexts: string[]; canceled: boolean }
export interface RunHooks {
  onStep?(step: number, steps: number): void;
  isCanceled?(id: string): boolean;
  /** the final latent of each image before the VAE (tests and diagnostics) */
  onLatent?(id: string, latent: Float32Array): void;
}
export type { LoraInfo } from './lora/registry';
import type { LoraInfo } from './lora/registry';

export interface ModelSessions {
  textEncoder: ort.InferenceSession;
  unet: ort.InferenceSession;
  vaeDecoder: ort.InferenceSession;
  vaeEncoder?: ort.InferenceSession;
}

/** Builds UNet extra feeds for ControlNet units of a batch; supplied by the ControlNet module. */
export type ControlNetPlanner = (ctx: { engine: Engine; model: ModelInfo; items: EngineItem[]; rowsPerItem: number[]; sessions: SessionCache }) => Promise<{ unet: ort.InferenceSession; extraFeeds: ExtraFeeds } | null>;
/** Returns sessions for a model with LoRAs merged into its weights; supplied by the LoRA module. */
export type LoraSessionBuilder = (ctx: { model: ModelInfo; loras: LoraRef[]; cache: SessionCache }) => Promise<Pick<ModelSessions, 'textEncoder' | 'unet'>>;

export class Engine {
  readonly registry: ModelRegistry;
  readonly cache: SessionCache;
  loraSessions?: LoraSessionBuilder;
  controlNet?: ControlNetPlanner;

  constructor(readonly opts: EngineOptions) {
    this.registry = new ModelRegistry(opts.modelsDir);
    this.cache = new SessionCache({ providers: opts.providers, intraOpThreads: opts.intraOpThreads, maxSessions: opts.maxCachedSessions });
    this.controlNet = createControlNetPlanner({ maxInputPixels: opts.maxInputPixels ?? 4096 * 4096 });
    this.loraSessions = async ({ model, loras, cache }) => {
      const key = loras.map((l) => `${l.name}:${l.weight}`).join(',');
      let built: ReturnType<typeof buildMergedNetworks> | null = null;
      const bytes = (target: 'unet' | 'text_encoder') => {
        built ??= buildMergedNetworks(model.path, loras, this.listLoras());
        return built.bytes[target] ?? join(model.path, target, 'model.onnx');
      };
      return {
        unet: await cache.get(`${model.path}|unet|lora=${key}`, () => bytes('unet')),
        textEncoder: await cache.get(`${model.path}|text_encoder|lora=${key}`, () => bytes('text_encoder')),
      };
    };
  }

  listLoras(): LoraInfo[] {
    return scanLoras(this.opts.loraDir);
  }

  listModels(): ModelInfo[] {
    return this.registry.list();
  }

  /** Throws a typed error naming the field for anything the pipeline cannot run. */
  validate(p: GenerationParams): void {
    this.registry.get(p.model);
    getSampler(p.sampler, p.scheduler);
    for (const [field, v] of [['width', p.width], ['height', p.height]] as const) {
      if (!Number.isInteger(v) || v < 64 || v % 8 !== 0) throw new ValidationError(`${field} must be a multiple of 8 and at least 64, got ${v}`, field);
    }
    if (p.width * p.height > this.opts.maxPixels) throw new ValidationError(`width x height = ${p.width * p.height} exceeds the maximum of ${this.opts.maxPixels} pixels`, 'width');
    if (!Number.isInteger(p.steps) || p.steps < 1 || p.steps > this.opts.maxSteps) throw new ValidationError(`steps must be an integer from 1 to ${this.opts.maxSteps}, got ${p.steps}`, 'steps');
    if (!Number.isFinite(p.cfg_scale)) throw new ValidationError('cfg_scale must be a finite number', 'cfg_scale');
    if (!Number.isInteger(p.batch_size) || p.batch_size < 1) throw new ValidationError('batch_size must be a positive integer', 'batch_size');
    if (!Number.isInteger(p.n_iter) || p.n_iter < 1) throw new ValidationError('n_iter must be a positive integer', 'n_iter');
    if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) throw new ValidationError('seed must be an integer from 0 to 4294967295 once resolved', 'seed');
    if (p.kind === 'img2img') {
      if (!p.init_image) throw new ValidationError('img2img needs init_image', 'init_image');
      if (!(p.denoising_strength > 0 && p.denoising_strength <= 1)) throw new ValidationError('denoising_strength must be in (0, 1]', 'denoising_strength');
    }
    const loras = mergeLoraRefs(p.loras, extractLoraTags(p.prompt).loras);
    if (loras.length > 0) {
      const available = this.listLoras().map((l) => l.name);
      for (const l of loras) {
        if (!available.includes(l.name)) throw new UnknownLoraError(l.name, available);
        if (!Number.isFinite(l.weight)) throw new ValidationError(`LoRA "${l.name}" has a non-finite weight`, 'loras');
      }
    }
    if (p.controlnet.length > 0 && !this.registry.get(p.model).hasControlNet) {
      throw new ValidationError(`model "${p.model}" has no ControlNet (controlnet/model.onnx and unet_controlnet/model.onnx)`, 'controlnet');
    }
  }

  async sessions(model: ModelInfo, loras: LoraRef[]): Promise<ModelSessions> {
    const file = (sub: string) => join(model.path, sub, 'model.onnx');
    const active = loras.filter((l) => l.weight !== 0);
    const merged = active.length > 0 && this.loraSessions ? await this.loraSessions({ model, loras: active, cache: this.cache }) : null;
    return {
      textEncoder: merged?.textEncoder ?? await this.cache.get(`${model.path}|text_encoder`, () => file('text_encoder')),
      unet: merged?.unet ?? await this.cache.get(`${model.path}|unet`, () => file('unet')),
      vaeDecoder: await this.cache.get(`${model.path}|vae_decoder`, () => file('vae_decoder')),
    };
  }

  /** The init image as a scaled latent, as img2img starts from it. */
  async encodeInit(model: ModelInfo, p: GenerationParams): Promise<Float32Array> {
    const rgb = await decodeImage(p.init_image!, p.width, p.height, { resizeMode: p.resize_mode, maxInputPixels: this.opts.maxInputPixels ?? 4096 * 4096 });
    const encoder = await this.cache.get(`${model.path}|vae_encoder`, () => join(model.path, 'vae_encoder/model.onnx'));
    const out = await encoder.run({ sample: new ort.Tensor('float32', rgbToTensor(rgb, p.width, p.height), [1, 3, p.height, p.width]) });
    const latent = (out.latent_sample ?? out[encoder.outputNames[0]]).data as Float32Array;
    return Float32Array.from(latent, (v) => v * LATENT_SCALE);
  }

  async generate(items: EngineItem[], hooks: RunHooks = {}): Promise<EngineItemResult[]> {
    if (items.length === 0) return [];
    for (const it of items) this.validate(it.params);
    const first = items[0].params;
    const { info: model, tokenizer, scheduler } = this.registry.files(first.model);
    const loras = mergeLoraRefs(first.loras, extractLoraTags(first.prompt).loras);
    const sessions = await this.sessions(model, loras);
    const spec = getSampler(first.sampler, first.scheduler);
    const [h, w] = [first.height / 8, first.width / 8];
    const latentSize = 4 * h * w;
    const rows: Row[] = [];
    const seedsOf = new Map<string, number[]>();
    for (const { id, params: p } of items) {
      const { cond, uncond } = await encodePromptPair(sessions.textEncoder, tokenizer, extractLoraTags(p.prompt).prompt, extractLoraTags(p.negative_prompt).prompt);
      const init = p.kind === 'img2img' ? await this.encodeInit(model, p) : undefined;
      const seeds = Array.from({ length: p.batch_size * p.n_iter }, (_, k) => (p.seed + k) % 2 ** 32);
      seedsOf.set(id, seeds);
      for (const seed of seeds) {
        const rng = new NumpyRandomState(seed);
        const run = spec.create({ config: scheduler, steps: p.steps, strength: p.kind === 'img2img' ? p.denoising_strength : 1 });
        rows.push({ itemId: id, cfg: p.cfg_scale, cond, uncond, run, rng, x: run.initLatent(rng.randn(latentSize), init) });
      }
    }
    const control = first.controlnet.length > 0 && this.controlNet
      ? await this.controlNet({ engine: this, model, items, rowsPerItem: items.map((i) => seedsOf.get(i.id)!.length), sessions: this.cache })
      : null;
    const survivors = await denoise(rows, {
      unet: control?.unet ?? sessions.unet,
      latentDims: [4, h, w],
      isCanceled: hooks.isCanceled,
      onStep: hooks.onStep,
      extraFeeds: control?.extraFeeds,
    });
    const images = new Map<string, Buffer[]>();
    for (const r of survivors) {
      hooks.onLatent?.(r.itemId, r.x);
      const p = items.find((i) => i.id === r.itemId)!.params;
      const latent = Float32Array.from(r.x, (v) => v / LATENT_SCALE);
      const out = await sessions.vaeDecoder.run({ latent_sample: new ort.Tensor('float32', latent, [1, 4, h, w]) });
      const pixels = (out.sample ?? out[sessions.vaeDecoder.outputNames[0]]).data as Float32Array;
      const seed = r.rng === undefined ? 0 : seedsOf.get(r.itemId)![(images.get(r.itemId) ?? []).length];
      const png = addPngText(await encodePng(tensorToRgb(pixels, p.width, p.height), p.width, p.height), 'parameters', buildInfotext(p, seed));
      images.set(r.itemId, [...(images.get(r.itemId) ?? []), png]);
    }
    return items.map(({ id, params: p }) => {
      const done = images.get(id) ?? [];
      const seeds = seedsOf.get(id)!;
      return { id, images: done, seeds, infotexts: seeds.map((s) => buildInfotext(p, s)), canceled: done.length === 0 };
    });
  }

  async close(): Promise<void> {
    await this.cache.close();
  }
}
