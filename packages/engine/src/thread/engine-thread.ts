// The engine behind the same API, run in a worker thread: onnxruntime's session.run blocks the thread that calls
// it, so here it blocks the engine's thread and the main event loop stays free for lock renewal, Redis, progress
// and cancel requests. Validation and model/LoRA listing (file-system reads only) answer on the calling thread.
import { Worker } from 'node:worker_threads';
import { Engine, type EngineItem, type EngineItemResult, type EngineOptions, type RunHooks } from '../engine';
import type { ModelInfo } from '../models/model-registry';
import type { LoraInfo } from '../lora/registry';
import type { GenerationParams } from '@farm/core';
import { CONTROL_FIELDS, CONTROL_REFRESH_MS, controlSlot, deserializeError, type FromThread, type ThreadData, type ToThread } from './protocol';

interface Pending {
  hooks: RunHooks;
  models?: string[];
  /** writes the control hooks' current answers into the call's shared block (generate calls) */
  refresh?: () => void;
  timer?: NodeJS.Timeout;
  resolve(r: EngineItemResult[] | void): void;
  reject(e: Error): void;
}

/** The control hooks' answers for each item, written into the call's shared block (layout: protocol.ts). */
function controlWriter(block: Int32Array, itemIds: string[], hooks: RunHooks): () => void {
  return () => {
    itemIds.forEach((id, i) => {
      for (const hook of CONTROL_FIELDS) {
        let answer = 0;
        try {
          answer = Number(hooks[hook]?.(id) ?? 0);
        } catch {
          answer = 0;
        }
        Atomics.store(block, controlSlot(i, hook), answer);
      }
    });
  };
}

const entry = new URL(import.meta.url.endsWith('.ts') ? './thread-main.ts' : './thread-main.js', import.meta.url);

export class EngineThread {
  /** answers validate/listModels/listLoras here; never creates a session */
  private readonly local: Engine;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly ready: Promise<void>;
  /** the thread said it is ready: a call is posted at once, not after a microtask */
  private isReady = false;
  private closing: Promise<void> | null = null;
  private calls = 0;
  private failure: Error | null = null;

  /**
   * `thread.importerModule`: a module exporting `importer`, loaded in the thread (opts.importer stays on this side);
   * `thread.nice`: the thread's nice value, and its compute threads' (ENGINE_NICE, see thread-priority.ts).
   */
  constructor(
    readonly opts: EngineOptions,
    thread: { importerModule?: URL; nice?: number } = {},
  ) {
    this.local = new Engine(opts);
    const data: ThreadData = {
      opts: { ...opts, importer: undefined },
      importerModule: thread.importerModule?.href,
      nice: thread.nice,
    };
    // From TypeScript sources (tsx), the thread registers tsx's loader itself: Node 20 threads do not inherit it.
    this.worker = entry.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`, {
          eval: true,
          workerData: data,
          name: 'engine',
        })
      : new Worker(entry, { workerData: data, name: 'engine' });
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', (m: FromThread) => {
        if (m.type !== 'ready') return reject(new Error(`engine thread said ${m.type} before ready`));
        this.isReady = true;
        resolve();
      });
      this.worker.once('error', reject);
    });
    this.ready.catch(() => {});
    this.worker.on('message', (m: FromThread) => this.receive(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`engine thread exited with code ${code}`));
    });
  }

  listModels(): ModelInfo[] {
    return this.local.listModels();
  }
  listLoras(): LoraInfo[] {
    return this.local.listLoras();
  }
  listUpscalers(): ReturnType<Engine['listUpscalers']> {
    return this.local.listUpscalers();
  }
  sizeMultiple(model: string): number {
    return this.local.sizeMultiple(model);
  }
  hiddenStates(model: string): number {
    return this.local.hiddenStates(model);
  }
  memoryProfile(model: string): ReturnType<Engine['memoryProfile']> {
    return this.local.memoryProfile(model);
  }
  get memoryBudget(): number | undefined {
    return this.local.memoryBudget;
  }
  /** The thread validates again after it prepares the model (a checkpoint is converted there on first use). */
  validate(p: GenerationParams): void {
    this.local.validate(p);
  }

  async generate(items: EngineItem[], hooks: RunHooks = {}): Promise<EngineItemResult[]> {
    if (items.length === 0) return [];
    // once the thread is up, the batch is posted before this call returns (the caller sends its start transitions after)
    if (!this.isReady) await this.ready;
    if (this.failure) throw this.failure;
    const call = ++this.calls;
    return new Promise((resolve, reject) => {
      const control = new SharedArrayBuffer(4 * CONTROL_FIELDS.length * items.length);
      const refresh = controlWriter(
        new Int32Array(control),
        items.map((i) => i.id),
        hooks,
      );
      refresh();
      const timer = setInterval(refresh, CONTROL_REFRESH_MS).unref();
      this.pending.set(call, { hooks, models: items.map((i) => i.params.model), refresh, timer, resolve: resolve as Pending['resolve'], reject });
      const present = (name: keyof RunHooks) => typeof hooks[name] === 'function';
      this.post({
        type: 'generate',
        call,
        items,
        hooks: Object.fromEntries((['onStep', 'onLatent', 'onPreview', ...CONTROL_FIELDS] as const).map((h) => [h, present(h)])),
        control,
      });
    });
  }

  /** Releases the thread's sessions (A1111's unload-checkpoint). */
  unloadModels(): Promise<void> {
    return this.command((call) => ({ type: 'unloadModels', call }));
  }

  /** Loads a model's sessions in the thread (A1111's reload-checkpoint). */
  loadModel(name: string): Promise<void> {
    return this.command((call) => ({ type: 'loadModel', call, name }));
  }

  private async command(message: (call: number) => ToThread): Promise<void> {
    await this.ready;
    if (this.failure) throw this.failure;
    const call = ++this.calls;
    return new Promise((resolve, reject) => {
      this.pending.set(call, { hooks: {}, resolve: () => resolve(), reject });
      this.post(message(call));
    });
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ready.catch(() => {});
      const closed = new Promise<void>((resolve) => {
        this.worker.on('message', (m: FromThread) => {
          if (m.type === 'closed') resolve();
        });
        this.worker.once('exit', () => resolve());
      });
      this.post({ type: 'close' });
      await closed;
      await this.worker.terminate();
      this.fail(new Error('the engine was closed'));
      await this.local.close();
    })();
    return this.closing;
  }

  private post(m: ToThread): void {
    this.worker.postMessage(m);
  }

  private receive(m: FromThread): void {
    if (m.type === 'ready' || m.type === 'closed') return;
    const p = this.pending.get(m.call);
    if (p?.timer && (m.type === 'result' || m.type === 'error')) clearInterval(p.timer);
    switch (m.type) {
      case 'step':
        p?.hooks.onStep?.(m.step, m.steps);
        p?.refresh?.();
        return;
      case 'latent':
        p?.hooks.onLatent?.(m.itemId, m.latent);
        return;
      case 'preview':
        p?.hooks.onPreview?.(m.itemId, m.step, Buffer.from(m.png.buffer, m.png.byteOffset, m.png.byteLength));
        return;
      case 'result':
        this.pending.delete(m.call);
        // a checkpoint the thread converted is ready on disk: let this side's registry see it too
        for (const name of new Set(p?.models ?? [])) this.local.registry.prepare(name, undefined).catch(() => {});
        p?.resolve(m.results.map((r) => ({ ...r, images: r.images.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) })));
        return;
      case 'done':
        this.pending.delete(m.call);
        p?.resolve();
        return;
      case 'error':
        this.pending.delete(m.call);
        p?.reject(deserializeError(m.error));
    }
  }

  private fail(e: Error): void {
    this.failure = e;
    for (const p of this.pending.values()) {
      clearInterval(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }
}
