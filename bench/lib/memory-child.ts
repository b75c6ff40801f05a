// One engine run in a process of its own, for the memory suite: prints the process's peak RSS (VmHWM) after loading
// the sessions and after the run, as one JSON line. argv[2]: { modelsDir, model, width, height, batch_size, steps, prompt }
import { readFileSync } from 'node:fs';
import { Engine } from '@farm/engine';
import type { GenerationParams } from '@farm/core';

const vm = (key: 'VmHWM' | 'VmRSS'): number =>
  Number(
    /(\d+) kB/.exec(
      readFileSync('/proc/self/status', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(key))!,
    )![1],
  ) * 1024;

const args = JSON.parse(process.argv[2]) as {
  modelsDir: string;
  model: string;
  width: number;
  height: number;
  batch_size: number;
  steps: number;
  prompt?: string;
  engine?: Record<string, unknown>;
};
const engine = new Engine({ modelsDir: args.modelsDir, maxPixels: 4096 * 4096, maxSteps: 150, ...args.engine });
await engine.loadModel(args.model);
const loaded = vm('VmHWM');
const params: GenerationParams = {
  kind: 'txt2img',
  model: args.model,
  prompt: args.prompt ?? 'a cat',
  negative_prompt: '',
  sampler: 'Euler',
  scheduler: 'Automatic',
  steps: args.steps,
  cfg_scale: 7,
  width: args.width,
  height: args.height,
  seed: 1,
  batch_size: args.batch_size,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [],
  controlnet: [],
};
const t0 = performance.now();
await engine.generate([{ id: 'probe', params }]);
console.log(JSON.stringify({ loadedBytes: loaded, peakBytes: vm('VmHWM'), ms: performance.now() - t0 }));
await engine.close();
