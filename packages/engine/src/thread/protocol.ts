// Messages between the EngineThread (main thread) and the engine running in its worker thread, and how errors
// cross: a FarmError keeps its class (so retry decisions made on `instanceof` and `status` still hold).
import * as core from '@farm/core';
import type { EngineItem, EngineItemResult, EngineOptions } from '../engine';

/** `opts` without functions; `importerModule` is a module URL exporting `importer` (a ModelImporter) for the thread. */
export interface ThreadData {
  opts: EngineOptions;
  importerModule?: string;
  /** the engine thread's nice value (see thread-priority.ts); unset: the process's own */
  nice?: number;
}

export type ToThread =
  /**
   * `hooks`: which of the main thread's RunHooks exist (the thread calls only those); `control`: the answers of the
   * main thread's control hooks for each item (see CONTROL_FIELDS), kept current by the main thread
   */
  | { type: 'generate'; call: number; items: EngineItem[]; hooks: HookNames; control: SharedArrayBuffer }
  /** session management: Engine.unloadModels() / Engine.loadModel(name) */
  | { type: 'unloadModels'; call: number }
  | { type: 'loadModel'; call: number; name: string }
  | { type: 'close' };

export type FromThread =
  | { type: 'ready' }
  | { type: 'step'; call: number; step: number; steps: number }
  | { type: 'latent'; call: number; itemId: string; latent: Float32Array }
  | { type: 'preview'; call: number; itemId: string; step: number; png: Uint8Array }
  | { type: 'result'; call: number; results: EngineItemResult[] }
  | { type: 'done'; call: number }
  | { type: 'error'; call: number; error: SerializedError }
  | { type: 'closed' };

/**
 * RunHooks the engine calls synchronously between steps and needs an answer from (booleans as 0/1). The thread never
 * asks the main thread for them (a round trip between threads per hook, item and step: ~0.1-0.3 ms each, a large
 * share of a fast GPU step): the main thread writes every item's answers into a shared block (Int32, item i's
 * answer to a hook at controlSlot(i, hook)) before the call, after each step it hears of and every
 * CONTROL_REFRESH_MS, and the thread reads them. A cancel is seen at most a step (and a refresh) later than a
 * question would have seen it.
 */
export type ControlHook = 'isCanceled' | 'interrupted' | 'skips';
export const CONTROL_FIELDS: ControlHook[] = ['isCanceled', 'interrupted', 'skips'];
export const CONTROL_REFRESH_MS = 25;
/** Where item `item`'s answer to `hook` lives in a call's control block (Int32 index). */
export const controlSlot = (item: number, hook: ControlHook): number => item * CONTROL_FIELDS.length + CONTROL_FIELDS.indexOf(hook);
export type HookNames = Partial<Record<ControlHook | 'onStep' | 'onLatent' | 'onPreview', boolean>>;

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
