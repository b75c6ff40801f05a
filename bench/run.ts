// `npm run bench [-- suite...]`: runs the named suites (default: engine-tiny, lora-controlnet, farm). engine-overhead,
// controlnet-sd15 and lora-sd15 are the engine's Done-when figures (BENCH_SIZE, BENCH_STEPS, BENCH_RUNS size the sd15 ones). Each prints markdown tables
// and writes bench/results/<suite>.json.
import { ensureTinyModel } from '@farm/testkit';
import type { ExecutionProvider } from '@farm/engine';

/** BENCH_PROVIDERS=cuda,cpu runs the engine suites on the GPU build of onnxruntime-node. */
const providers = (process.env.BENCH_PROVIDERS ?? 'cpu').split(',').map((p) => p.trim()) as ExecutionProvider[];

type Suite = () => Promise<unknown>;

const suites: Record<string, Suite> = {
  'engine-tiny': async () => {
    const { modelsDir, name } = await ensureTinyModel();
    const { runEngineBench } = await import('./engine-bench');
    return runEngineBench(
      { modelsDir, model: name, width: 256, height: 256, steps: 10, batches: [1, 2, 4, 8], runs: 7, providers },
      `engine-tiny-${providers.join('+')}`,
    );
  },
  'lora-controlnet': async () => {
    const { runLoraControlNetBench } = await import('./lora-controlnet-bench');
    return runLoraControlNetBench({ width: 256, steps: 10, runs: 5 });
  },
  farm: async () => {
    const { runFarmBench } = await import('./farm-bench');
    return runFarmBench({ latencyRuns: 20, throughputJobs: 40 });
  },
  'farm-routing': async () => {
    const { runFarmRoutingBench } = await import('./farm-routing-bench');
    return runFarmRoutingBench({
      latencyRuns: Number(process.env.BENCH_RUNS) || 40,
      // jobs run through the farm (and the relay) before the measured ones (see the benchmark)
      warmupJobs: Number(process.env.BENCH_WARMUP ?? 1000),
      jobs: Number(process.env.BENCH_JOBS) || 48,
      // BENCH_PHASES=latency,gateway,throughput: only those parts (the overhead table always runs)
      phases: process.env.BENCH_PHASES?.split(','),
    });
  },
  gpu: async () => {
    const { runGpuBench, flavourAgreement } = await import('./gpu-bench');
    const { writeResult } = await import('./lib/report');
    const { join } = await import('node:path');
    const modelsDir = new URL('../.cache/bench-models', import.meta.url).pathname;
    await runGpuBench({ modelsDir, providers, deviceTflops: Number(process.env.BENCH_DEVICE_TFLOPS) || undefined });
    const rows = await flavourAgreement(join(modelsDir, 'sd15-flavours'), providers);
    return writeResult('gpu-sd15-fp16-agreement', { providers }, [{ title: 'gpu flavour vs portable, same weights and inputs', rows }]);
  },
  'import-sd15': async () => {
    const { runImportBench } = await import('./import-bench');
    return runImportBench();
  },
  'engine-overhead': async () => {
    const tiny = await ensureTinyModel();
    const { runOverheadBench } = await import('./engine-perf-bench');
    return runOverheadBench({ providers, tiny: { modelsDir: tiny.modelsDir, model: tiny.name }, runs: 5 });
  },
  'controlnet-sd15': async () => {
    const { runControlNetBench } = await import('./engine-perf-bench');
    const n = (v: string | undefined, d: number) => (v ? Number(v) : d);
    return runControlNetBench({
      providers,
      size: n(process.env.BENCH_SIZE, 128),
      steps: n(process.env.BENCH_STEPS, 2),
      runs: n(process.env.BENCH_RUNS, 1),
      withOld: process.env.BENCH_OLD_LAYOUT !== '0',
    });
  },
  'lora-sd15': async () => {
    const { runLoraBench } = await import('./engine-perf-bench');
    const n = (v: string | undefined, d: number) => (v ? Number(v) : d);
    return runLoraBench({
      providers,
      size: n(process.env.BENCH_SIZE, 64),
      steps: n(process.env.BENCH_STEPS, 2),
      runs: n(process.env.BENCH_RUNS, 1),
      sets: n(process.env.BENCH_SETS, 10),
    });
  },
  'lora-tiny': async () => {
    const tiny = await ensureTinyModel();
    const { runLoraBench } = await import('./engine-perf-bench');
    return runLoraBench({ providers, size: 256, steps: 10, runs: 9, sets: 10, tiny: { modelsDir: tiny.modelsDir, model: tiny.name } });
  },
  memory: async () => {
    const { runMemoryBench } = await import('./memory-bench');
    return runMemoryBench();
  },
  'engine-sd15': async () => {
    const { runSd15StepBench } = await import('./sd15-bench');
    return runSd15StepBench(providers);
  },
};

const requested = process.argv.slice(2);
const names = requested.length > 0 ? requested : ['engine-tiny', 'lora-controlnet', 'farm'];
for (const name of names) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown suite "${name}"; available: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n## ${name}\n`);
  await suite();
}
