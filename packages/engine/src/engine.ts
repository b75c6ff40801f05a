// The engine: validates a batch of compatible requests and renders it in named stages (sessions -> conditioning ->
// noise -> denoise -> decode -> encode), returning PNGs with A1111 infotext. Sessions come from a provider so
// LoRA-merged variants slot in.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  NotRunnableHereError,
  ValidationError,
  defaultSessionCacheBytes,
  estimatePeakBytes,
  planBatches,
  renderShapeOf,
  type ModelMemoryProfile,
  checkModelSize,
  checkClipSkip,
  hiresTarget,
  knownUpscaler,
  samplerTotalSteps,
  type GenerationParams,
  type LoraRef,
} from '@farm/core';
import { noiseForImage, PhiloxGenerator } from './rng';
import { getSampler, samplerInfotext, schedulerConfigProblem, withBrownianTree } from './schedulers';
import { ModelRegistry, type ModelInfo, type LoadedModelFiles, type ModelImporter } from './models/model-registry';
import { SessionCache, type ExecutionProvider } from './onnx/session-cache';
import { cachedUnetSizeMultiple } from './models/unet-size';
import { cachedMemoryProfile } from './models/memory-profile';
import { encodeConditioning, type RowConditioning } from './pipeline/conditioning';
import { embeddingTextEncoder, tiHashes, type ActiveEmbeddings } from './embeddings/session';
import { clipSkipOutput, clipSkipSupport, usableHiddenStates } from './pipeline/clip-skip';
import type { TextLayer } from './pipeline/text-encoding';
import { denoise as denoiseLoop, type Row } from './pipeline/denoise';
import { liveControl } from './pipeline/live-control';
import { decodeImage, encodePng, rgbToTensor, tensorToRgb } from './pipeline/images';
import { addPngText, buildInfotext, type InfotextMeta } from './png';
import { extractLoraTags, mergeLoraRefs } from '@farm/core';
import { createControlNetPlanner, type ControlNetPlanner } from './controlnet/controlnet-runner';
import { listLoras as scanLoras } from './lora/registry';
import { loraSessionBuilder } from './lora/lora-sessions';
import { modelSha256, shortHash } from './models/model-hash';
import { UnknownLoraError } from '@farm/core';
import { prepareItemInputs, startRow, finishLatent, finishPixels, type ItemInputs } from './pipeline/item-inputs';
import { alphaBarAt, sampleChannels } from './pipeline/unet-io';
import { hiresInfotext, hiresPass, hiresSteps } from './pipeline/hires';
import { upscalerModels } from './upscale/model-upscaler';
import { runExtras, validateExtras } from './upscale/extras';
import { runSdUpscale } from './upscale/sd-upscale';
import { removeTiledFiles, tiledModelSource } from './onnx/tiling';

export const LATENT_SCALE = 0.18215;

export interface EngineOptions {
  modelsDir: string;
  loraDir?: string;
  providers?: ExecutionProvider[];
  maxPixels: number;
  maxSteps: number;
  intraOpThreads?: number;
  /** onnxruntime's threads spin between operators (ORT_SPINNING; default off, see SessionCacheOptions.spinning) */
  ortSpinning?: boolean;
  /** weight bytes the session cache may hold (SESSION_CACHE_BYTES; default: half the host's memory) */
  sessionCacheBytes?: number;
  /** graph flavour: auto (default) picks `gpu` files (model.gpu.onnx) when the first provider is cuda or tensorrt */
  graphFlavour?: 'auto' | 'portable' | 'gpu';
  /** CUDA device of the cuda/tensorrt providers (default 0) */
  gpuDeviceId?: number;
  /** images per VAE decoder call (default 4) */
  vaeBatch?: number;
  /** sharp's limitInputPixels for init and control images */
  maxInputPixels?: number;
  /** upscaler models (<name>.onnx, ESRGAN-style image -> image) */
  upscalersDir?: string;
  /** textual inversion embeddings (<name>.safetensors), A1111's embeddings/ folder */
  embeddingsDir?: string;
  /** converts checkpoint files and diffusers folders dropped into modelsDir (the worker supplies modelgen's) */
  importer?: ModelImporter;
  /** VAE folders (<name>/vae_decoder/model.onnx) that params.vae names (A1111's sd_vae) */
  vaeDir?: string;
  /** bytes a render may take (WORKER_MEMORY_BYTES): batches are split to fit, and what cannot fit is refused; absent: no limit */
  memoryBudget?: number;
  /** most 75-token chunks of a prompt (MAX_PROMPT_CHUNKS); absent: no cap */
  maxPromptChunks?: number;
}

export interface EngineItem {
  id: string;
  params: GenerationParams;
}
export interface EngineItemResult {
  id: string;
  images: Buffer[];
  seeds: number[];
  infotexts: string[];
  canceled: boolean;
}
export interface RunHooks {
  onStep?(step: number, steps: number): void;
  isCanceled?(id: string): boolean;
  /** the final latent of each image before the VAE (tests and diagnostics) */
  onLatent?(id: string, latent: Float32Array): void;
  /** A1111 interrupt asked for this item: the current iteration ends now and is decoded, later ones never start */
  interrupted?(id: string): boolean;
  /** how many A1111 skips were asked for this item: each ends the current iteration now */
  skips?(id: string): number;
  /** a live preview PNG (A1111's cheap approximation at latent size) every params.live_preview_every steps */
  onPreview?(id: string, step: number, png: Buffer): void;
}
/** What a render worker needs of an engine: `Engine` in-process, or `EngineThread` with the same behaviour in a thread. */
export type EngineApi = Pick<
  Engine,
  | 'listModels'
  | 'listLoras'
  | 'listUpscalers'
  | 'sizeMultiple'
  | 'hiddenStates'
  | 'memoryProfile'
  | 'memoryBudget'
  | 'validate'
  | 'generate'
  | 'unloadModels'
  | 'loadModel'
  | 'close'
>;
export type { LoraInfo } from './lora/registry';
import type { LoraInfo } from './lora/registry';

export interface ModelSessions {
  textEncoder: ort.InferenceSession;
  unet: ort.InferenceSession;
  vaeDecoder: ort.InferenceSession;
  vaeEncoder?: ort.InferenceSession;
}

/** What every stage of one generate call reads. */
interface Plan {
  items: EngineItem[];
  model: ModelInfo;
  tokenizer: LoadedModelFiles['tokenizer'];
  scheduler: LoadedModelFiles['scheduler'];
  loras: LoraRef[];
  sampler: ReturnType<typeof getSampler>;
  /** [channels, height / 8, width / 8] */
  latentDims: [number, number, number];
}
interface ItemConditioning {
  text: RowConditioning;
  inputs: ItemInputs;
}
interface Conditioning {
  perItem: Map<string, ItemConditioning>;
  control: Awaited<ReturnType<ControlNetPlanner>> | null;
  /** UNet input channels: 4, or 9 for inpainting models */
  channels: number;
  /** the text encoder with textual inversion rows, when the prompts name embeddings */
  embeddings: ActiveEmbeddings | null;
}
/** The denoised rows and their latent size (the hires size when hires fix ran). */
interface Denoised {
  rows: Row[];
  dims: [number, number];
}
interface Decoded {
  row: Row;
  pixels: Float32Array;
  width: number;
  height: number;
}

/** Returns sessions for a model with LoRAs merged into its weights; supplied by the LoRA module. */
export type LoraSessionBuilder = (ctx: { model: ModelInfo; loras: LoraRef[]; cache: SessionCache }) => Promise<Pick<ModelSessions, 'textEncoder' | 'unet'>>;

export class Engine {
  readonly registry: ModelRegistry;
  readonly cache: SessionCache;
  readonly upscalers: ReturnType<typeof upscalerModels>;
  loraSessions?: LoraSessionBuilder;
  controlNet?: ControlNetPlanner;

  constructor(readonly opts: EngineOptions) {
    this.registry = new ModelRegistry(opts.modelsDir);
    this.cache = new SessionCache({
      providers: opts.providers,
      graphFlavour: opts.graphFlavour,
      deviceId: opts.gpuDeviceId,
      intraOpThreads: opts.intraOpThreads,
      spinning: opts.ortSpinning,
      maxBytes: opts.sessionCacheBytes ?? defaultSessionCacheBytes(),
    });
    this.upscalers = upscalerModels(opts.upscalersDir, this.cache);
    this.controlNet = createControlNetPlanner({ maxInputPixels: opts.maxInputPixels ?? 4096 * 4096 });
    this.loraSessions = loraSessionBuilder(() => this.listLoras());
  }

  listLoras(): LoraInfo[] {
    return scanLoras(this.opts.loraDir);
  }

  /** upscaler model names (UPSCALERS_DIR); None, Lanczos and Nearest are always there */
  listUpscalers(): { name: string }[] {
    return this.upscalers.list();
  }

  /** The multiple a model's width and height must be (8 for generated models and exports with dynamic upsampling). */
  sizeMultiple(model: string): number {
    const info = this.registry.get(model);
    // a checkpoint not converted yet becomes the generator's graph, which upsamples to any multiple of 8
    if (info.source && !info.path) return 8;
    return cachedUnetSizeMultiple(join(info.path, 'unet/model.onnx'));
  }

  get memoryBudget(): number | undefined {
    return this.opts.memoryBudget;
  }

  /** What a model's renders' memory depends on (read from its graphs), for the batch plan and the heartbeat. */
  memoryProfile(model: string): ModelMemoryProfile {
    const info = this.registry.get(model);
    if (info.source && !info.path) throw new Error(`model "${model}" is not converted yet`);
    return cachedMemoryProfile(info.path, this.cache.flavour === 'gpu');
  }

  /**
   * Images per UNet call and per VAE call that keep this render within the memory budget (everything at once
   * without one). A render of which one image does not fit is not started: another worker may have more memory.
   */
  private batchPlan(plan: Plan, conditioning: Conditioning, rows: Row[]): { images: number; vaeImages: number } {
    const vaeBatch = Math.max(1, this.opts.vaeBatch ?? 4);
    const budget = this.opts.memoryBudget;
    if (budget === undefined) return { images: rows.length, vaeImages: vaeBatch };
    const texts = [...conditioning.perItem.values()].map((c) => c.text);
    const chunks = Math.max(...texts.map((t) => t.sequence / 77));
    const shape = { ...renderShapeOf(plan.items[0].params, chunks, vaeBatch), rowsPerImage: Math.max(...texts.map((t) => t.parts.length)) + 1 };
    const fit = planBatches(this.memoryProfile(plan.model.name), shape, budget, rows.length);
    if (!fit) {
      const need = estimatePeakBytes(this.memoryProfile(plan.model.name), { ...shape, images: 1, vaeImages: 1 });
      throw new NotRunnableHereError(
        `${shape.width}x${shape.height} on model "${plan.model.name}" needs about ${Math.ceil(need / 2 ** 20)} MiB for one image, more than this worker's memory budget (${Math.ceil(budget / 2 ** 20)} MiB, WORKER_MEMORY_BYTES)`,
        'insufficient_memory',
      );
    }
    return fit;
  }

  /** The text-encoder output an item's clip skip reads (null: last_hidden_state). */
  private textLayer(model: ModelInfo, p: GenerationParams): TextLayer | null {
    const n = p.clip_skip ?? 1;
    if (n <= 1) return null;
    const support = clipSkipSupport(join(model.path, 'text_encoder/model.onnx'));
    return { output: clipSkipOutput(support, n)!, norm: support.finalNorm! };
  }

  /** How many hidden states the model's text encoder exports for clip skip (0: none usable, clip skip 1 only). */
  hiddenStates(model: string): number {
    const info = this.registry.get(model);
    if (info.source && !info.path) throw new Error(`model "${model}" is not converted yet`);
    return usableHiddenStates(clipSkipSupport(join(info.path, 'text_encoder/model.onnx')));
  }

  listModels(): ModelInfo[] {
    return this.registry.list();
  }

  /** Throws a typed error naming the field for anything the pipeline cannot run. */
  validate(p: GenerationParams): void {
    if (p.kind === 'extras')
      return validateExtras(
        p,
        this.listUpscalers().map((u) => u.name),
      );
    const model = this.registry.get(p.model);
    if (p.vae) this.vaeDecoderFile(p.vae);
    getSampler(p.sampler, p.scheduler);
    // a checkpoint's scheduler config exists once it is converted (generate prepares before it validates)
    const problem = model.source && !model.path ? null : schedulerConfigProblem(this.registry.files(p.model).scheduler);
    if (problem) throw new ValidationError(`model "${p.model}": scheduler/scheduler_config.json ${problem}`, 'model');
    for (const [field, v] of [
      ['width', p.width],
      ['height', p.height],
    ] as const) {
      if (!Number.isInteger(v) || v < 64 || v % 8 !== 0) throw new ValidationError(`${field} must be a multiple of 8 and at least 64, got ${v}`, field);
    }
    checkModelSize(p.model, p.width, p.height, this.sizeMultiple(p.model));
    // (a checkpoint not converted yet is checked once converted: generate prepares, then validates)
    if (!model.source || model.path) checkClipSkip(p.model, p.clip_skip ?? 1, this.hiddenStates(p.model));
    if (p.width * p.height > this.opts.maxPixels)
      throw new ValidationError(`width x height = ${p.width * p.height} exceeds the maximum of ${this.opts.maxPixels} pixels`, 'width');
    if (!Number.isInteger(p.steps) || p.steps < 1 || p.steps > this.opts.maxSteps)
      throw new ValidationError(`steps must be an integer from 1 to ${this.opts.maxSteps}, got ${p.steps}`, 'steps');
    if (!Number.isFinite(p.cfg_scale)) throw new ValidationError('cfg_scale must be a finite number', 'cfg_scale');
    if (!Number.isInteger(p.batch_size) || p.batch_size < 1) throw new ValidationError('batch_size must be a positive integer', 'batch_size');
    if (!Number.isInteger(p.n_iter) || p.n_iter < 1) throw new ValidationError('n_iter must be a positive integer', 'n_iter');
    if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff)
      throw new ValidationError('seed must be an integer from 0 to 4294967295 once resolved', 'seed');
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
    if (p.inpaint && p.kind !== 'img2img') throw new ValidationError('mask (inpainting) needs img2img', 'mask');
    if (p.hires && p.kind !== 'txt2img') throw new ValidationError('hires fix (enable_hr) is for txt2img', 'enable_hr');
    if (p.hires) {
      getSampler(p.hires.hr_sampler_name ?? p.sampler, p.hires.hr_scheduler ?? p.scheduler);
      if (
        !knownUpscaler(
          p.hires.hr_upscaler,
          this.listUpscalers().map((u) => u.name),
        )
      )
        throw new ValidationError(`could not find upscaler named "${p.hires.hr_upscaler}"`, 'hr_upscaler');
      if (p.controlnet.length > 0) throw new ValidationError('ControlNet together with hires fix is not supported', 'enable_hr');
      const t = hiresTarget(p.width, p.height, p.hires);
      if (t.toX * t.toY > this.opts.maxPixels)
        throw new ValidationError(`hires fix to ${t.toX}x${t.toY} exceeds the maximum of ${this.opts.maxPixels} pixels`, 'hr_scale');
    }
    if (p.sd_upscale) {
      if (p.kind !== 'img2img' || p.inpaint || p.controlnet.length > 0)
        throw new ValidationError('SD upscale is an img2img script, without inpainting mask or ControlNet', 'script_name');
      if (
        !knownUpscaler(
          p.sd_upscale.upscaler,
          this.listUpscalers().map((u) => u.name),
        )
      )
        throw new ValidationError(`could not find upscaler named "${p.sd_upscale.upscaler}"`, 'script_args');
    }
    if (p.tiling && loras.some((l) => l.weight !== 0)) throw new ValidationError('tiling together with LoRAs is not supported by this farm yet', 'tiling');
    if (p.tiling && p.controlnet.length > 0) throw new ValidationError('tiling together with ControlNet is not supported by this farm yet', 'tiling');
    if (p.controlnet.length > 0 && !this.registry.get(p.model).hasControlNet) {
      throw new ValidationError(`model "${p.model}" has no ControlNet (controlnet/model.onnx and unet_controlnet/model.onnx)`, 'controlnet');
    }
  }

  /** The decoder of a VAE in vaeDir (A1111's sd_vae); throws a ValidationError on `sd_vae` when there is none. */
  vaeDecoderFile(vae: string): string {
    const file = join(this.opts.vaeDir ?? '', vae, 'vae_decoder/model.onnx');
    if (!this.opts.vaeDir || vae.includes('/') || vae.includes('\\') || vae.startsWith('.') || !existsSync(file))
      throw new ValidationError(`VAE "${vae}" is not installed on this worker (VAE_DIR)`, 'sd_vae');
    return file;
  }

  async sessions(model: ModelInfo, loras: LoraRef[], vae?: string, tiling = false): Promise<ModelSessions> {
    const active = loras.filter((l) => l.weight !== 0);
    const merged = active.length > 0 && this.loraSessions ? await this.loraSessions({ model, loras: active, cache: this.cache }) : null;
    if (tiling) {
      return {
        textEncoder: await this.cache.network(model.path, 'text_encoder'),
        unet: await this.tiledNetwork(model.path, 'unet'),
        vaeDecoder: await this.tiledFile(vae ? this.vaeDecoderFile(vae) : this.networkFile(model.path, 'vae_decoder'), model.path),
      };
    }
    return {
      textEncoder: merged?.textEncoder ?? (await this.cache.network(model.path, 'text_encoder')),
      unet: merged?.unet ?? (await this.cache.network(model.path, 'unet')),
      vaeDecoder: vae ? await this.cache.get(`vae:${vae}|vae_decoder`, () => this.vaeDecoderFile(vae)) : await this.cache.network(model.path, 'vae_decoder'),
    };
  }

  /** The file of a network the cache's graph flavour loads (model.gpu.onnx where the flavour is gpu and it exists). */
  private networkFile(modelPath: string, sub: string): string {
    const gpu = join(modelPath, sub, 'model.gpu.onnx');
    return this.cache.flavour === 'gpu' && existsSync(gpu) ? gpu : join(modelPath, sub, 'model.onnx');
  }

  /** A network with circular padding in its convolutions (tiling), cached as a variant of the model. */
  private tiledNetwork(modelPath: string, sub: string): Promise<ort.InferenceSession> {
    return this.tiledFile(this.networkFile(modelPath, sub), modelPath);
  }

  private tiledFile(file: string, group: string): Promise<ort.InferenceSession> {
    let source: Uint8Array | string | null = null;
    return this.cache.get(`${file}|tiling`, () => (source = tiledModelSource(file)), {
      kind: 'variant',
      group,
      dispose: () => {
        if (source !== null) removeTiledFiles(source);
      },
    });
  }

  /** The init image as a scaled latent, as img2img starts from it. */
  async encodeInit(model: ModelInfo, p: GenerationParams): Promise<Float32Array> {
    const rgb = await decodeImage(p.init_image!, p.width, p.height, { resizeMode: p.resize_mode, maxInputPixels: this.opts.maxInputPixels ?? 4096 * 4096 });
    return this.encodeTensor(model, rgbToTensor(rgb, p.width, p.height), p.width, p.height);
  }

  /** [3, H, W] in [-1, 1] -> scaled latent [4, H/8, W/8] */
  async encodeTensor(model: ModelInfo, chw: Float32Array, width: number, height: number, tiling = false): Promise<Float32Array> {
    const encoder = tiling ? await this.tiledNetwork(model.path, 'vae_encoder') : await this.cache.network(model.path, 'vae_encoder');
    const out = await encoder.run({ sample: new ort.Tensor('float32', chw, [1, 3, height, width]) });
    const latent = (out.latent_sample ?? out[encoder.outputNames[0]]).data as Float32Array;
    return Float32Array.from(latent, (v) => v * LATENT_SCALE);
  }

  /** scaled latent [4, h, w] -> [3, 8h, 8w] in ~[-1, 1] */
  private async decodeLatent(sessions: ModelSessions, latent: Float32Array, h: number, w: number): Promise<Float32Array> {
    return (await this.decodeLatents(sessions, [latent], h, w))[0];
  }

  /** Latents [4, h, w] (unscaled) through the VAE decoder in one call; [3, 8h, 8w] images in [-1, 1]. */
  private async decodeLatents(sessions: ModelSessions, latents: Float32Array[], h: number, w: number): Promise<Float32Array[]> {
    const size = 4 * h * w;
    const batch = new Float32Array(latents.length * size);
    latents.forEach((latent, i) => {
      for (let k = 0; k < size; k++) batch[i * size + k] = latent[k] / LATENT_SCALE;
    });
    const out = await sessions.vaeDecoder.run({ latent_sample: new ort.Tensor('float32', batch, [latents.length, 4, h, w]) });
    const pixels = (out.sample ?? out[sessions.vaeDecoder.outputNames[0]]).data as Float32Array;
    const plane = pixels.length / latents.length;
    return latents.map((_, i) => pixels.subarray(i * plane, (i + 1) * plane));
  }

  /**
   * Renders a batch of compatible items. It reads as its stages: each takes what the previous one made, and every
   * row (one image) carries its own seed from the noise stage to the PNG's infotext.
   */
  async generate(items: EngineItem[], hooks: RunHooks = {}): Promise<EngineItemResult[]> {
    if (items.length === 0) return [];
    // the sessions this batch fetches stay loaded until it ends, whatever the byte budget wants
    const first = items[0].params;
    return this.cache.job(() =>
      first.kind === 'extras' ? this.extras(items, hooks) : first.sd_upscale ? this.sdUpscale(items, hooks) : this.render(items, hooks),
    );
  }

  private async render(items: EngineItem[], hooks: RunHooks): Promise<EngineItemResult[]> {
    // a checkpoint dropped into MODELS_DIR is converted on first use; its parts show as the job's progress
    await this.registry.prepare(items[0].params.model, this.opts.importer, (done, total) => hooks.onStep?.(done, total));
    for (const it of items) this.validate(it.params);
    const plan = this.plan(items);
    const sessions = await this.sessions(plan.model, plan.loras, items[0].params.vae, items[0].params.tiling === true);
    const conditioning = await this.condition(plan, sessions);
    const rows = this.noise(plan, conditioning);
    const fit = this.batchPlan(plan, conditioning, rows);
    const denoised = await this.denoise(plan, sessions, conditioning, rows, hooks, fit.images);
    const decoded = this.decode(plan, sessions, denoised, hooks, fit.vaeImages);
    // a model converted from a single checkpoint file reports that file's hash, as A1111 does
    const vae = items[0].params.vae;
    const meta = {
      modelHash: shortHash(await modelSha256(plan.model.source?.format === 'ldm' ? plan.model.source.path : plan.model.path)),
      ...(vae ? { vaeName: vae, vaeHash: shortHash(await modelSha256(this.vaeDecoderFile(vae))) } : {}),
    };
    const images = await this.encode(plan, conditioning, decoded, meta);
    return items.map(({ id, params: p }) => {
      const seeds = rows.filter((r) => r.itemId === id).map((r) => r.seed);
      const done = images.get(id) ?? [];
      // an interrupted item has images for a prefix of its rows; its infotexts are those images'
      const shown = done.length ? denoised.rows.filter((r) => r.itemId === id).map((r) => r.seed) : seeds;
      return {
        id,
        images: done,
        seeds,
        infotexts: shown.map((s) =>
          buildInfotext(
            p,
            s,
            { ...samplerInfotext(p, plan.scheduler), ...this.extraInfotext(p, conditioning.perItem.get(id)!, conditioning.embeddings) },
            meta,
          ),
        ),
        canceled: done.length === 0,
      };
    });
  }

  /** Extras jobs (upscaling, no diffusion model), one after another; progress is in hundredths of the batch's images. */
  private async extras(items: EngineItem[], hooks: RunHooks): Promise<EngineItemResult[]> {
    for (const it of items) this.validate(it.params);
    const results: EngineItemResult[] = [];
    const steps = 100 * items.length;
    for (const [i, { id, params }] of items.entries()) {
      if (hooks.isCanceled?.(id) || hooks.interrupted?.(id)) {
        results.push({ id, images: [], seeds: [], infotexts: [], canceled: true });
        continue;
      }
      const out = await runExtras(params, (name) => this.upscalers.get(name), {
        maxInputPixels: this.opts.maxInputPixels ?? 4096 * 4096,
        onProgress: (f) => hooks.onStep?.(Math.max(1, Math.round(100 * (i + f))), steps),
      });
      results.push({ id, images: [out.png], seeds: [params.seed], infotexts: [out.infotext], canceled: false });
    }
    return results;
  }

  /** SD upscale jobs, one after another: each upscales its image and img2img's it tile by tile through `render`. */
  private async sdUpscale(items: EngineItem[], hooks: RunHooks): Promise<EngineItemResult[]> {
    for (const it of items) this.validate(it.params);
    const results: EngineItemResult[] = [];
    for (const { id, params } of items) {
      const stop = () => (hooks.isCanceled?.(id) ?? false) || (hooks.interrupted?.(id) ?? false);
      const out = await runSdUpscale(params, {
        render: (tiles, onStep) => this.render(tiles, { onStep, isCanceled: stop }),
        model: (name) => this.upscalers.get(name),
        maxInputPixels: this.opts.maxInputPixels ?? 4096 * 4096,
        onStep: hooks.onStep,
        isCanceled: stop,
      });
      results.push({ id, ...out, canceled: out.images.length === 0 });
    }
    return results;
  }

  /** Infotext fields of inpainting, inpainting models and hires fix (A1111's extra_generation_params). */
  private extraInfotext(p: GenerationParams, c: ItemConditioning, embeddings: ActiveEmbeddings | null): Record<string, string | number> {
    const sdUpscale: Record<string, string | number> = p.sd_upscale
      ? { 'SD upscale overlap': p.sd_upscale.overlap, 'SD upscale upscaler': p.sd_upscale.upscaler }
      : {};
    return { ...c.inputs.infotext, ...(p.hires ? hiresInfotext(p) : {}), ...sdUpscale, ...tiHashes(c.text.embeddings, embeddings) };
  }

  /** What the whole batch shares, read from its first item (the batch key guarantees the rest agree). */
  private plan(items: EngineItem[]): Plan {
    const first = items[0].params;
    const { info: model, tokenizer, scheduler } = this.registry.files(first.model);
    return {
      items,
      model,
      tokenizer,
      scheduler,
      loras: mergeLoraRefs(first.loras, extractLoraTags(first.prompt).loras),
      sampler: getSampler(first.sampler, first.scheduler),
      latentDims: [4, first.height / 8, first.width / 8],
    };
  }

  /** Conditioning: each item's text-state schedules (AND parts, prompt editing; each distinct text encoded once), its init latent for img2img, and the ControlNet plan. */
  private async condition(plan: Plan, sessions: ModelSessions): Promise<Conditioning> {
    const perItem = new Map<string, ItemConditioning>();
    const pairs = plan.items.map(({ params: p }) => ({
      prompt: extractLoraTags(p.prompt).prompt,
      negative: extractLoraTags(p.negative_prompt).prompt,
      layer: this.textLayer(plan.model, p),
    }));
    const embeddings = await embeddingTextEncoder({
      model: plan.model,
      loras: plan.loras,
      availableLoras: () => this.listLoras(),
      dir: this.opts.embeddingsDir,
      tokenizer: plan.tokenizer,
      texts: plan.items.flatMap(({ params: p }) => [p.prompt, p.negative_prompt, p.hires?.hr_prompt ?? '', p.hires?.hr_negative_prompt ?? '']),
      cache: this.cache,
    });
    const texts = await encodeConditioning(
      embeddings?.session ?? sessions.textEncoder,
      plan.tokenizer,
      pairs,
      samplerTotalSteps(plan.items[0].params.sampler, plan.items[0].params.steps),
      embeddings?.tokens,
      this.opts.maxPromptChunks,
    );
    const channels = sampleChannels(sessions.unet);
    const encodeTensor = (chw: Float32Array, width: number, height: number) =>
      this.encodeTensor(plan.model, chw, width, height, plan.items[0].params.tiling === true);
    for (const [i, { id, params: p }] of plan.items.entries()) {
      const inputs = await prepareItemInputs(p, { channels, encodeTensor, maxInputPixels: this.opts.maxInputPixels ?? 4096 * 4096 });
      perItem.set(id, { text: texts[i], inputs });
    }
    const control =
      plan.items[0].params.controlnet.length > 0 && this.controlNet
        ? await this.controlNet({ model: plan.model, items: plan.items, sessions: this.cache })
        : null;
    return { perItem, control, channels, embeddings };
  }

  /** Noise: one row per image, seeded seed, seed + 1, ... across batch_size x n_iter (A1111's per-image generators), each with its own sampler run. */
  private noise(plan: Plan, conditioning: Conditioning): Row[] {
    return plan.items.flatMap(({ id, params: p }) => {
      const { text, inputs } = conditioning.perItem.get(id)!;
      return Array.from({ length: p.batch_size * p.n_iter }, (_, k) => {
        const seed = (p.seed + k) % 2 ** 32;
        const { first, stream } = noiseForImage(p, k, plan.latentDims);
        const run = plan.sampler.create({
          config: plan.scheduler,
          steps: p.steps,
          strength: p.kind === 'img2img' ? p.denoising_strength : 1,
          discretization: p.discretization ?? 'diffusers',
        });
        // A1111's sources get A1111's Brownian tree for the SDE samplers (torch.randn on CUDA, which GPU/NV imitate)
        const rng =
          (p.randn_source ?? 'numpy') !== 'numpy' ? withBrownianTree(stream, run.brownianRange, seed, (s, n) => new PhiloxGenerator(s).randn(n)) : stream;
        return {
          itemId: id,
          seed,
          cfg: p.cfg_scale,
          conditioning: text,
          calls: 0,
          run,
          rng,
          ...startRow(inputs, first, (n, init) => run.initLatent(n, init)),
          iteration: Math.floor(k / p.batch_size),
        };
      });
    });
  }

  /**
   * Denoise: the batched sampling loop (inpainting rows blend their known latent in at every call); with hires fix,
   * then the hires pass. Returns the rows of items that were not canceled; progress counts both passes.
   */
  private async denoise(
    plan: Plan,
    sessions: ModelSessions,
    conditioning: Conditioning,
    rows: Row[],
    hooks: RunHooks,
    maxRowsPerCall: number,
  ): Promise<Denoised> {
    const first = plan.items[0].params;
    const secondSteps = first.hires ? hiresSteps(first, plan.scheduler) : 0;
    const opts = {
      unet: conditioning.control?.unet ?? sessions.unet,
      isCanceled: hooks.isCanceled,
      extraFeeds: conditioning.control?.extraFeeds,
      maxRowsPerCall,
      sampleChannels: conditioning.channels,
      alphaBarAt: alphaBarAt(plan.scheduler),
    };
    const control = liveControl(plan.items, plan.latentDims, {
      interrupted: hooks.interrupted,
      skips: hooks.skips,
      onPreview:
        hooks.onPreview &&
        ((id, step, p) => {
          encodePng(p.rgb, p.width, p.height).then(
            (png) => hooks.onPreview!(id, step, png),
            () => {},
          );
        }),
    });
    const survivors = await denoiseLoop(rows, {
      ...opts,
      control,
      latentDims: plan.latentDims,
      onStep: (step, steps) => hooks.onStep?.(step, steps + secondSteps),
    });
    if (!first.hires || survivors.length === 0) return { rows: survivors, dims: [plan.latentDims[1], plan.latentDims[2]] };
    const params = (id: string) => plan.items.find((i) => i.id === id)!.params;
    const hr = await hiresPass(survivors, {
      params,
      noise: (row, shape) => noiseForImage(params(row.itemId), (row.seed - params(row.itemId).seed + 2 ** 32) % 2 ** 32, shape),
      encodePrompts: async (prompt, negative, steps, p) =>
        (
          await encodeConditioning(
            conditioning.embeddings?.session ?? sessions.textEncoder,
            plan.tokenizer,
            [{ prompt: extractLoraTags(prompt).prompt, negative: extractLoraTags(negative).prompt, layer: this.textLayer(plan.model, p) }],
            steps,
            conditioning.embeddings?.tokens,
            this.opts.maxPromptChunks,
          )
        )[0],
      decode: (latent, h, w) => this.decodeLatent(sessions, latent, h, w),
      encodeTensor: (chw, width, height) => this.encodeTensor(plan.model, chw, width, height, first.tiling === true),
      upscalerModel: (name) => this.upscalers.get(name),
      channels: conditioning.channels,
      scheduler: plan.scheduler,
      denoise: opts,
      onStep: hooks.onStep,
      firstSteps: rows[0].run.steps,
    });
    return { rows: hr.rows, dims: [hr.height, hr.width] };
  }

  /** Decode: the final latents through the VAE decoder, `per` at a time (vaeBatch, or fewer to fit the memory budget), to [3, H, W] images in [-1, 1]. */
  private async *decode(plan: Plan, sessions: ModelSessions, denoised: Denoised, hooks: RunHooks, per: number): AsyncGenerator<Decoded[]> {
    const [h, w] = denoised.dims;
    for (let start = 0; start < denoised.rows.length; start += per) {
      const chunk = denoised.rows.slice(start, start + per);
      for (const row of chunk) hooks.onLatent?.(row.itemId, row.x);
      const pixels = await this.decodeLatents(
        sessions,
        chunk.map((row) => finishLatent(row.x, row.blend)),
        h,
        w,
      );
      yield chunk.map((row, i) => ({ row, pixels: pixels[i], width: w * 8, height: h * 8 }));
    }
  }

  /**
   * Encode: RGB bytes to PNG with the A1111 infotext of the row's seed, grouped by item in row order. sharp encodes
   * on libuv's pool, so a chunk's PNGs are written while the VAE decodes the next chunk.
   */
  private async encode(plan: Plan, conditioning: Conditioning, decoded: AsyncIterable<Decoded[]>, meta: InfotextMeta): Promise<Map<string, Buffer[]>> {
    const pngs: { itemId: string; png: Promise<Buffer> }[] = [];
    for await (const chunk of decoded) {
      for (const { row, pixels, width, height } of chunk) {
        const p = plan.items.find((i) => i.id === row.itemId)!.params;
        const c = conditioning.perItem.get(row.itemId)!;
        const infotext = buildInfotext(p, row.seed, { ...samplerInfotext(p, plan.scheduler), ...this.extraInfotext(p, c, conditioning.embeddings) }, meta);
        // inpainting: the original pixels pasted back outside the mask (A1111's apply_overlay)
        const png = finishPixels(tensorToRgb(pixels, width, height), width, height, c.inputs).then(async (final) =>
          addPngText(await encodePng(Buffer.from(final.rgb), final.width, final.height), 'parameters', infotext),
        );
        pngs.push({ itemId: row.itemId, png });
      }
    }
    const images = new Map<string, Buffer[]>();
    for (const { itemId, png } of pngs) images.set(itemId, [...(images.get(itemId) ?? []), await png]);
    return images;
  }

  /** Releases every loaded session (A1111's unload-checkpoint); the next job loads what it needs. */
  async unloadModels(): Promise<void> {
    await this.cache.close();
  }

  /** Loads a model's sessions (A1111's reload-checkpoint). */
  async loadModel(name: string): Promise<void> {
    await this.sessions(this.registry.get(name), []);
  }

  async close(): Promise<void> {
    await this.cache.close();
  }
}
