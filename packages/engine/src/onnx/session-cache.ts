// Inference sessions, created once per (file, variant) and kept in a small LRU. Execution providers come from options.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { FarmError, NotRunnableHereError } from '@farm/core';
import { withFloat32Io } from './float16-io';

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
  maxSessions?: number;
}

export class ProviderUnavailableError extends FarmError {
  constructor(provider: string, cause: string) {
    super('provider_unavailable', 500,
      `execution provider "${provider}" is not available in this onnxruntime-node build (${cause}); install the GPU build with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci on a machine with CUDA 12 and cuDNN 9, or set EXECUTION_PROVIDERS=cpu`,
      undefined, 'not_runnable_here');
  }
}

export class SessionCache {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly providers: ExecutionProvider[];
  private readonly maxSessions: number;

  readonly flavour: GraphFlavourName;

  constructor(private readonly opts: SessionCacheOptions = {}) {
    this.providers = opts.providers ?? ['cpu'];
    this.maxSessions = opts.maxSessions ?? 16;
    const setting = opts.graphFlavour ?? 'auto';
    this.flavour = setting === 'auto' ? (this.providers[0] === 'cuda' || this.providers[0] === 'tensorrt' ? 'gpu' : 'portable') : setting;
  }

  /** The session of one network of a model folder (`unet`, `vae_decoder`, ...) in this cache's graph flavour. */
  network(modelPath: string, sub: string): Promise<ort.InferenceSession> {
    const gpu = join(modelPath, sub, 'model.gpu.onnx');
    if (this.flavour === 'gpu' && existsSync(gpu)) return this.get(`${modelPath}|${sub}|gpu`, () => gpu);
    return this.get(`${modelPath}|${sub}`, () => join(modelPath, sub, 'model.onnx'));
  }

  sessionOptions(): ort.InferenceSession.SessionOptions {
    return {
      // TensorRT's fp16 and engine cache come from its environment variables (core's tensorrtEnvironment)
      executionProviders: this.providers.map((name) => (name === 'cpu' ? name : { name, deviceId: this.opts.deviceId ?? 0 })),
      graphOptimizationLevel: 'all',
      ...(this.opts.intraOpThreads ? { intraOpNumThreads: this.opts.intraOpThreads } : {}),
    };
  }

  /** Returns the cached session for `key`, creating it from what `source` gives (a file path or model bytes). */
  async get(key: string, source: () => Promise<string | Uint8Array> | string | Uint8Array): Promise<ort.InferenceSession> {
    const hit = this.sessions.get(key);
    if (hit) {
      this.sessions.delete(key);
      this.sessions.set(key, hit);
      return hit;
    }
    const created = (async () => {
      const from = await source();
      try {
        return withFloat32Io(typeof from === 'string'
          ? await ort.InferenceSession.create(from, this.sessionOptions())
          : await ort.InferenceSession.create(from, this.sessionOptions()));
      } catch (e) {
        const message = (e as Error).message;
        const gpu = this.providers.find((p) => p !== 'cpu' && message.toLowerCase().includes(p));
        if (gpu) throw new ProviderUnavailableError(gpu, message.split('\n')[0]);
        // this worker's copy does not load; another worker's may
        throw new NotRunnableHereError(`${typeof from === 'string' ? from : 'a model'} cannot be loaded on this worker: ${message}`, 'model_not_loadable');
      }
    })();
    this.sessions.set(key, created);
    created.catch(() => this.sessions.delete(key));
    await this.evict();
    return created;
  }

  has(key: string): boolean {
    return this.sessions.has(key);
  }

  private async evict(): Promise<void> {
    while (this.sessions.size > this.maxSessions) {
      const [oldest, session] = this.sessions.entries().next().value as [string, Promise<ort.InferenceSession>];
      this.sessions.delete(oldest);
      await session.then((s) => s.release()).catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.release()).catch(() => {})));
  }
}
