// Inference sessions, created once per (file, variant) and kept under a byte budget (the weights each session loads,
// see session-bytes.ts; what goes first is eviction.ts's policy). Sessions a running job holds are never released
// under it: a job is a scope (`job()`), and every session fetched inside it is held until it ends. Execution
// providers come from options.
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { FarmError, NotRunnableHereError } from '@farm/core';
import { withFloat32Io } from './float16-io';
import { sourceBytes } from './session-bytes';
import { planEviction, type SessionKind } from './eviction';

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

/** `gpu`: <net>/model.gpu.onnx where a model has it (fused attention, float16), else model.onnx. */
export type GraphFlavourName = 'portable' | 'gpu';

export interface SessionCacheOptions {
  providers?: ExecutionProvider[];
  /** auto (default): gpu when the first provider is cuda or tensorrt; the CPU path stays fp32 portable */
  graphFlavour?: 'auto' | GraphFlavourName;
  /** CUDA device of the cuda and tensorrt providers */
  deviceId?: number;
  intraOpThreads?: number;
  /**
   * onnxruntime's pool threads spin while they wait for the next operator's work (its default). Off unless asked: a
   * worker shares its cores with its own event loop (the sampler's arithmetic between UNet calls) and often with Redis
   * and a gateway, and spinning threads take those cores (on a 2-core machine: tiny 128x128 renders 57 ms against
   * 75 ms with spinning, one interleaved run; see README). A host whose cores are the engine's alone may turn it on
   * (ORT_SPINNING).
   */
  spinning?: boolean;
  /** weight bytes the cached sessions may hold together (default: unbounded) */
  maxBytes?: number;
}

export interface SessionSpec {
  /** default `variant` (see eviction.ts) */
  kind?: SessionKind;
  /** the model folder a base or lora session belongs to */
  group?: string;
  /** called once the session is released (a LoRA merge's temporary files) */
  dispose?: () => void;
}

/** The session cache's byte budget cannot hold a session the job needs. */
export class SessionBudgetError extends NotRunnableHereError {
  constructor(what: string, reason: string) {
    super(`${what} does not fit in this worker's session cache (SESSION_CACHE_BYTES): ${reason}`, 'session_budget');
  }
}

export class ProviderUnavailableError extends FarmError {
  constructor(provider: string, cause: string) {
    super(
      'provider_unavailable',
      500,
      `execution provider "${provider}" is not available in this onnxruntime-node build (${cause}); install the GPU build with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci on a machine with CUDA 12 and cuDNN 9, or set EXECUTION_PROVIDERS=cpu`,
      undefined,
      'not_runnable_here',
    );
  }
}

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly providers: ExecutionProvider[];
  private readonly maxBytes: number;
  private readonly jobs = new AsyncLocalStorage<Set<string>>();
  private readonly active = new Set<Set<string>>();
  /** creations one at a time, so two cannot both count on the same free bytes */
  private creating: Promise<unknown> = Promise.resolve();

  readonly flavour: GraphFlavourName;

  constructor(private readonly opts: SessionCacheOptions = {}) {
    this.providers = opts.providers ?? ['cpu'];
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const setting = opts.graphFlavour ?? 'auto';
    this.flavour = setting === 'auto' ? (this.providers[0] === 'cuda' || this.providers[0] === 'tensorrt' ? 'gpu' : 'portable') : setting;
  }

  /** The session of one network of a model folder (`unet`, `vae_decoder`, ...) in this cache's graph flavour; pinned as the model's base. */
  network(modelPath: string, sub: string, file = 'model.onnx'): Promise<ort.InferenceSession> {
    const spec: SessionSpec = { kind: 'base', group: modelPath };
    const gpu = join(modelPath, sub, file.replace(/\.onnx$/, '.gpu.onnx'));
    if (this.flavour === 'gpu' && existsSync(gpu)) return this.get(`${modelPath}|${sub}|${file}|gpu`, () => gpu, spec);
    return this.get(`${modelPath}|${sub}|${file}`, () => join(modelPath, sub, file), spec);
  }

  sessionOptions(): ort.InferenceSession.SessionOptions {
    const spin = this.opts.spinning ? '1' : '0';
    return {
      // TensorRT's fp16 and engine cache come from its environment variables (core's tensorrtEnvironment)
      executionProviders: this.providers.map((name) => (name === 'cpu' ? name : { name, deviceId: this.opts.deviceId ?? 0 })),
      graphOptimizationLevel: 'all',
      ...(this.opts.intraOpThreads ? { intraOpNumThreads: this.opts.intraOpThreads } : {}),
      // session config entries (onnxruntime's session.intra_op.allow_spinning, session.inter_op.allow_spinning)
      extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
    };
  }

  /** Runs `fn` as one job: the sessions it fetches stay loaded until it ends. */
  async job<T>(fn: () => Promise<T>): Promise<T> {
    const held = new Set<string>();
    this.active.add(held);
    try {
      return await this.jobs.run(held, fn);
    } finally {
      this.active.delete(held);
    }
  }

  /** Returns the cached session for `key`, creating it from what `source` gives (a file path or model bytes) once room is made for it. */
  async get(key: string, source: () => Promise<string | Uint8Array> | string | Uint8Array, spec: SessionSpec = {}): Promise<ort.InferenceSession> {
    this.jobs.getStore()?.add(key);
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.session;
    }
    const created = this.creating.then(() => this.create(key, source, spec));
    this.creating = created.catch(() => {});
    return created;
  }

  private async create(key: string, source: () => Promise<string | Uint8Array> | string | Uint8Array, spec: SessionSpec): Promise<ort.InferenceSession> {
    const hit = this.entries.get(key);
    if (hit) return hit.session;
    let from: string | Uint8Array;
    try {
      from = await source();
    } catch (e) {
      spec.dispose?.();
      throw e;
    }
    const bytes = sourceBytes(from);
    const kind = spec.kind ?? 'variant';
    const group = spec.group ?? '';
    const plan = planEviction(
      [...this.entries].map(([k, e]) => ({ key: k, bytes: e.bytes, kind: e.kind, group: e.group, busy: this.busy(k) })),
      { bytes, kind, group },
      this.maxBytes,
    );
    if ('refused' in plan) {
      spec.dispose?.();
      throw new SessionBudgetError(typeof from === 'string' ? from : `session ${key}`, plan.refused);
    }
    for (const k of plan.evict) await this.release(k);
    const session = (async () => {
      try {
        return withFloat32Io(
          typeof from === 'string'
            ? await ort.InferenceSession.create(from, this.sessionOptions())
            : await ort.InferenceSession.create(from, this.sessionOptions()),
        );
      } catch (e) {
        const message = (e as Error).message;
        const gpu = this.providers.find((p) => p !== 'cpu' && message.toLowerCase().includes(p));
        if (gpu) throw new ProviderUnavailableError(gpu, message.split('\n')[0]);
        // this worker's copy does not load; another worker's may
        throw new NotRunnableHereError(`${typeof from === 'string' ? from : 'a model'} cannot be loaded on this worker: ${message}`, 'model_not_loadable');
      }
    })();
    this.entries.set(key, { session, bytes, kind, group, dispose: spec.dispose });
    try {
      return await session;
    } catch (e) {
      if (this.entries.get(key)?.session === session) this.entries.delete(key);
      spec.dispose?.();
      throw e;
    }
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Weight bytes the cached sessions hold now. */
  get bytes(): number {
    let sum = 0;
    for (const e of this.entries.values()) sum += e.bytes;
    return sum;
  }

  /** Cached sessions, least recently used first (diagnostics, tests, the bench). */
  list(): { key: string; bytes: number; kind: SessionKind }[] {
    return [...this.entries].map(([key, e]) => ({ key, bytes: e.bytes, kind: e.kind }));
  }

  private busy(key: string): boolean {
    for (const held of this.active) if (held.has(key)) return true;
    return false;
  }

  private async release(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    await entry.session.then((s) => s.release()).catch(() => {});
    entry.dispose?.();
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((k) => this.release(k)));
  }
}

interface Entry {
  session: Promise<ort.InferenceSession>;
  bytes: number;
  kind: SessionKind;
  group: string;
  dispose?: () => void;
}
