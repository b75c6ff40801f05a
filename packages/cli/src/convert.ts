// npm run convert -- <checkpoint.safetensors | diffusers folder> --out <dir> [--tokenizer <dir>] [--prediction-type epsilon|v_prediction] [--fp16]
import { parseArgs } from 'node:util';
import { basename, resolve } from 'node:path';
import { importCheckpoint } from '@farm/modelgen';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    tokenizer: { type: 'string' },
    'prediction-type': { type: 'string' },
    fp16: { type: 'boolean', default: false },
  },
});
const source = positionals[0];
if (!source || positionals.length > 1) {
  console.error(
    'usage: npm run convert -- <checkpoint.safetensors | diffusers folder> --out <dir> [--tokenizer <dir>] [--prediction-type epsilon|v_prediction] [--fp16]',
  );
  process.exit(2);
}
const predictionType = values['prediction-type'];
if (predictionType !== undefined && !['epsilon', 'v_prediction'].includes(predictionType)) {
  console.error(`--prediction-type must be epsilon or v_prediction, got "${predictionType}"`);
  process.exit(2);
}
const outDir = resolve(values.out ?? `models/${basename(source).replace(/\.safetensors$/i, '')}`);
const started = performance.now();
try {
  const result = await importCheckpoint(resolve(source), {
    outDir,
    tokenizerDir: values.tokenizer && resolve(values.tokenizer),
    predictionType,
    fp16Weights: values.fp16,
    log: (line) => console.log(line),
  });
  const { variant, format } = result;
  console.log(
    `wrote ${outDir} from ${format === 'ldm' ? 'an LDM checkpoint' : 'a diffusers folder'} (${variant.textEncoder} text encoder, ${variant.inpainting ? 'inpainting UNet, ' : ''}${variant.predictionType}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
