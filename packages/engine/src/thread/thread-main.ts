// The worker-thread side: one Engine, fed batches by messages. Progress and latents go back as messages; cancel,
// interrupt and skip answers are read from the shared block the main thread keeps current (protocol.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, type EngineOptions } from '../engine';
import { lowerThreadPriority } from './thread-priority';
import { controlSlot, serializeError, type ControlHook, type FromThread, type ThreadData, type ToThread } from './protocol';

const { opts, importerModule, nice } = workerData as ThreadData;
// before any session exists: onnxruntime's compute threads, started by this thread's sessions, inherit it
if (nice !== undefined) lowerThreadPriority(nice);
const importer = importerModule ? ((await import(importerModule)) as { importer: EngineOptions['importer'] }).importer : undefined;
const engine = new Engine({ ...opts, importer });
const port = parentPort!;
const send = (m: FromThread) => port.postMessage(m);

/** The main thread's latest answer to `hook` for an item of this call (0 for an id not in the call). */
function controlReader(control: SharedArrayBuffer, itemIds: string[]): (hook: ControlHook, itemId: string) => number {
  const block = new Int32Array(control);
  const index = new Map(itemIds.map((id, i) => [id, i]));
  return (hook, itemId) => {
    const i = index.get(itemId);
    return i === undefined ? 0 : Atomics.load(block, controlSlot(i, hook));
  };
}

port.on('message', (m: ToThread) => {
  if (m.type === 'close') {
    engine
      .close()
      .catch((e: unknown) => console.error('engine close failed', e))
      .finally(() => send({ type: 'closed' }));
    return;
  }
  if (m.type === 'unloadModels' || m.type === 'loadModel') {
    (m.type === 'unloadModels' ? engine.unloadModels() : engine.loadModel(m.name)).then(
      () => send({ type: 'done', call: m.call }),
      (e) => send({ type: 'error', call: m.call, error: serializeError(e) }),
    );
    return;
  }
  const { call, items, hooks } = m;
  const answer = controlReader(
    m.control,
    items.map((i) => i.id),
  );
  engine
    .generate(items, {
      onStep: hooks.onStep ? (step, steps) => send({ type: 'step', call, step, steps }) : undefined,
      isCanceled: hooks.isCanceled ? (itemId) => answer('isCanceled', itemId) === 1 : undefined,
      interrupted: hooks.interrupted ? (itemId) => answer('interrupted', itemId) === 1 : undefined,
      skips: hooks.skips ? (itemId) => answer('skips', itemId) : undefined,
      onLatent: hooks.onLatent ? (itemId, latent) => send({ type: 'latent', call, itemId, latent: latent.slice() }) : undefined,
      onPreview: hooks.onPreview ? (itemId, step, png) => send({ type: 'preview', call, itemId, step, png }) : undefined,
    })
    .then(
      (results) => send({ type: 'result', call, results }),
      (e) => send({ type: 'error', call, error: serializeError(e) }),
    );
});
send({ type: 'ready' });
