// The worker-thread side: one Engine, fed batches by messages. Progress and latents go back as messages; a
// cancel check blocks this thread (never the main one) until the main thread answers through shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, type EngineOptions } from '../engine';
import { serializeError, SIGNAL_ANSWER, SIGNAL_STATE, type AskHook, type FromThread, type ThreadData, type ToThread } from './protocol';

const { opts, cancelSignal, importerModule } = workerData as ThreadData;
const signal = new Int32Array(cancelSignal);
const importer = importerModule ? ((await import(importerModule)) as { importer: EngineOptions['importer'] }).importer : undefined;
const engine = new Engine({ ...opts, importer });
const port = parentPort!;
const send = (m: FromThread) => port.postMessage(m);

/** Asks the main thread's hook; a main thread that does not answer within 10 s counts as answering 0 (no). */
function ask(call: number, hook: AskHook, itemId: string): number {
  Atomics.store(signal, SIGNAL_STATE, 0);
  send({ type: 'ask', call, hook, itemId });
  Atomics.wait(signal, SIGNAL_STATE, 0, 10_000);
  return Atomics.load(signal, SIGNAL_STATE) === 1 ? Atomics.load(signal, SIGNAL_ANSWER) : 0;
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
  engine
    .generate(items, {
      onStep: hooks.onStep ? (step, steps) => send({ type: 'step', call, step, steps }) : undefined,
      isCanceled: hooks.isCanceled ? (itemId) => ask(call, 'isCanceled', itemId) === 1 : undefined,
      interrupted: hooks.interrupted ? (itemId) => ask(call, 'interrupted', itemId) === 1 : undefined,
      skips: hooks.skips ? (itemId) => ask(call, 'skips', itemId) : undefined,
      onLatent: hooks.onLatent ? (itemId, latent) => send({ type: 'latent', call, itemId, latent: latent.slice() }) : undefined,
      onPreview: hooks.onPreview ? (itemId, step, png) => send({ type: 'preview', call, itemId, step, png }) : undefined,
    })
    .then(
      (results) => send({ type: 'result', call, results }),
      (e) => send({ type: 'error', call, error: serializeError(e) }),
    );
});
send({ type: 'ready' });
