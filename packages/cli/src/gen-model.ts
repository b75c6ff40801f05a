// npm run gen-model -- --preset tiny|sd15|tiny-inpaint|sd15-inpaint --out <dir> [--seed N] [--no-controlnet] [--fp16]
import { parseArgs } from 'node:util';
import { generateModel, presets } from '@farm/modelgen';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny' },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'no-controlnet': { type: 'boolean', default: false },
    fp16: { type: 'boolean', default: false },
  },
});
const preset = values.preset as keyof typeof presets;
if (!(preset in presets)) {
  console.error(`unknown preset "${values.preset}"; available: ${Object.keys(presets).join(', ')}`);
  process.exit(2);
}
const outDir = values.out ?? `models/${preset}`;
const seed = Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`--seed must be a non-negative integer, got "${values.seed}"`);
  process.exit(2);
}
const started = performance.now();
await generateModel({
  preset,
  outDir,
  seed,
  controlnet: values['no-controlnet'] ? false : undefined,
  fp16Weights: values.fp16,
  log: (line) => console.log(line),
});
console.log(`wrote ${outDir} (preset ${preset}, seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
