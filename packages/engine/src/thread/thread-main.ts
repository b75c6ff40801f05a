// The worker-thread side: one Engine, fed batches by messages. Progress and latents go back as messages; a
// cancel check blocks this thread (never the main one) until the main thread answers through shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, type EngineOptions } from '../engine';
import { serializeError, SIGNAL_ANSWER, SIGNAL_STATE, type FromThread, type ThreadData, type ToThread } from './protocol';

const { opts, cancelSignal, importerModule } = workerData as ThreadData;
const signal = new Int32Array(cancelSignal);
const importer = importerModule ? (await import(importerModule) as { importer: EngineOptions['importer'] }).importer : undefined;
const engine = new Engine({ ...opts, importer });
const port = parentPort!;
const send = (m: FromThread) => port.postMessage(m);

/** Asks the main thread; a main thread that does not answer within 10 s counts as "not canceled". */
function askCanceled(call: number, itemId: string): boolean {
  Atomics.store(signal, SIGNAL_STATE, 0);
  send({ type: 'isCanceled', call, itemId });
  Atomics.wait(signal, SIGNAL_STATE, 0, 10_000);
  return Atomics.load(signal, SIGNAL_STATE) === 1 && Atomics.load(signal, SIGNAL_ANSWER) === 1;
}

port.on('message', (m: ToThread) => {
  if (m.type === 'close') {
    engine.close().finally(() => send({ type: 'closed' }));
    return;
  }
  if (m.type === 'unloadModels' || m.type === 'loadModel') {
    (m.type === 'unloadModels' ? engine.unloadModels() : engine.loadModel(m.name)).then(
      () => send({ type: 'done', call: m.call }),
      (e) => send({ type: 'error', call: m.call, error: serializeError(e) }),
    );
    return;
  }
  const { call, items, wantsLatents } = m;
  engine.generate(items, {
    onStep: (step, steps) => send({ type: 'step', call, step, steps }),
    isCanceled: (itemId) => askCanceled(call, itemId),
    onLatent: wantsLatents ? (itemId, latent) => send({ type: 'latent', call, itemId, latent: latent.slice() }) : undefined,
  }).then(
    (results) => send({ type: 'result', call, results }),
    (e) => send({ type: 'error', call, error: serializeError(e) }),
  );
});
send({ type: 'ready' });

