// Messages between the EngineThread (main thread) and the engine running in its worker thread, and how errors
// cross: a FarmError keeps its class (so retry decisions made on `instanceof` and `status` still hold).
import * as core from '@farm/core';
import type { EngineItem, EngineItemResult, EngineOptions } from '../engine';

/** `opts` without functions; `importerModule` is a module URL exporting `importer` (a ModelImporter) for the thread. */
export interface ThreadData {
  opts: EngineOptions;
  cancelSignal: SharedArrayBuffer;
  importerModule?: string;
}

export type ToThread =
  /** `hooks`: which of the main thread's RunHooks exist (the thread calls only those) */
  | { type: 'generate'; call: number; items: EngineItem[]; hooks: HookNames }
  /** session management: Engine.unloadModels() / Engine.loadModel(name) */
  | { type: 'unloadModels'; call: number }
  | { type: 'loadModel'; call: number; name: string }
  | { type: 'close' };

export type FromThread =
  | { type: 'ready' }
  | { type: 'step'; call: number; step: number; steps: number }
  | { type: 'latent'; call: number; itemId: string; latent: Float32Array }
  | { type: 'preview'; call: number; itemId: string; step: number; png: Uint8Array }
  /** a synchronous hook: the thread waits (Atomics) for the number answered in the shared signal */
  | { type: 'ask'; call: number; hook: AskHook; itemId: string }
  | { type: 'result'; call: number; results: EngineItemResult[] }
  | { type: 'done'; call: number }
  | { type: 'error'; call: number; error: SerializedError }
  | { type: 'closed' };

/** RunHooks the engine calls synchronously and needs an answer from (boolean answers as 0/1) */
export type AskHook = 'isCanceled' | 'interrupted' | 'skips';
export const ASK_HOOKS: AskHook[] = ['isCanceled', 'interrupted', 'skips'];
export type HookNames = Partial<Record<AskHook | 'onStep' | 'onLatent' | 'onPreview', boolean>>;

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  props: Record<string, unknown>;
}

export function serializeError(e: unknown): SerializedError {
  const err = e instanceof Error ? e : new Error(String(e));
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    try {
      structuredClone(v);
      props[k] = v;
    } catch {
      /* not cloneable: dropped */
    }
  }
  return { name: err.name, message: err.message, stack: err.stack, props };
}

/** Rebuilds the error with its FarmError subclass when core exports one of that name, else a plain Error. */
export function deserializeError(s: SerializedError): Error {
  const ctor = (core as Record<string, unknown>)[s.name];
  const isFarm = typeof ctor === 'function' && (ctor === core.FarmError || (ctor as { prototype: unknown }).prototype instanceof core.FarmError);
  const err: Error = isFarm ? Object.create((ctor as { prototype: object }).prototype) : new Error(s.message);
  Object.assign(err, s.props, { message: s.message, name: s.name });
  if (s.stack) err.stack = s.stack;
  return err;
}

/** Signal layout (Int32): [0] state (0 waiting, 1 answered), [1] the answer. */
export const SIGNAL_STATE = 0;
export const SIGNAL_ANSWER = 1;
