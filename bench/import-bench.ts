// Checkpoint import at SD1.5 size: an SD1.5-shaped single-file LDM checkpoint (fp16, random weights, ~2 GB, written
// once under .cache/bench-models/sd15-checkpoint) converted to the ONNX layout in a child process; reports the
// import's time and peak RSS (the conversion streams tensor by tensor, so it stays far below the checkpoint's size).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { presets, writeLdmCheckpoint, writeTokenizer } from '@farm/modelgen';
import { fmt, writeResult, type Row } from './lib/report';

const root = new URL('..', import.meta.url).pathname;

const sizeOf = (path: string): number =>
  statSync(path).isDirectory() ? readdirSync(path).reduce((n, f) => n + sizeOf(join(path, f)), 0) : statSync(path).size;

export async function runImportBench() {
  const dir = join(root, '.cache/bench-models/sd15-checkpoint');
  const checkpoint = join(dir, 'sd15-shaped.safetensors');
  const tokenizer = join(dir, 'clip-tokenizer');
  let writeMs = 0;
  if (!existsSync(checkpoint)) {
    mkdirSync(dir, { recursive: true });
    const t0 = performance.now();
    writeLdmCheckpoint(`${checkpoint}.tmp.safetensors`, { preset: 'sd15', dtype: 'F16', lazy: true });
    writeMs = performance.now() - t0;
    renameSync(`${checkpoint}.tmp.safetensors`, checkpoint);
    renameSync(`${checkpoint}.tmp.yaml`, checkpoint.replace(/\.safetensors$/, '.yaml'));
    writeTokenizer(tokenizer, presets.sd15);
  }
  const out = join(dir, 'converted');
  rmSync(out, { recursive: true, force: true });
  const child = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/lib/import-child.ts'), checkpoint, out, tokenizer], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const { ms, peakRssMiB } = JSON.parse(child.trim().split('\n').pop()!) as { ms: number; peakRssMiB: number };
  const rows: Row[] = [
    { measure: 'checkpoint (fp16 LDM .safetensors)', value: `${(statSync(checkpoint).size / 2 ** 30).toFixed(2)} GiB` },
    { measure: 'converted ONNX folder (fp32, external data)', value: `${(sizeOf(out) / 2 ** 30).toFixed(2)} GiB` },
    { measure: 'import time', value: `${fmt(ms)} ms` },
    { measure: 'peak RSS of the importing process', value: `${peakRssMiB.toFixed(0)} MiB` },
  ];
  if (writeMs > 0) rows.push({ measure: 'writing the checkpoint (once)', value: `${fmt(writeMs)} ms` });
  rmSync(out, { recursive: true, force: true });
  return writeResult('import-sd15', { checkpoint: 'sd15-shaped LDM, fp16, random weights' }, [{ title: 'Importing an SD1.5-shaped checkpoint', rows }]);
}
