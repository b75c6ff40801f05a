// Peak memory of real renders on the tiny model, each in a process of its own (bench/lib/memory-child.ts reads its
// VmHWM), beside core's estimate for the same render: the calibration of packages/core/src/memory.ts. The estimate
// must stay above every measured peak (ratio > 1).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { estimatePeakBytes } from '@farm/core';
import { ensureTinyModel } from '@farm/testkit';
import { readMemoryProfile } from '../packages/engine/src/models/memory-profile';
import { writeResult, type Row } from './lib/report';

const root = new URL('..', import.meta.url).pathname;
const MiB = 2 ** 20;

export async function runMemoryBench() {
  const { modelsDir, name } = await ensureTinyModel();
  const profile = readMemoryProfile(join(modelsDir, name));
  const cases = [
    { width: 64, height: 64, batch_size: 1 },
    { width: 256, height: 256, batch_size: 1 },
    { width: 512, height: 512, batch_size: 1 },
    { width: 512, height: 512, batch_size: 2 },
    { width: 1024, height: 512, batch_size: 1 },
    { width: 1024, height: 1024, batch_size: 1 },
  ];
  const rows: Row[] = [];
  for (const c of cases) {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'bench/lib/memory-child.ts'), JSON.stringify({ modelsDir, model: name, steps: 1, ...c })],
      { cwd: root, encoding: 'utf8' },
    );
    const { peakBytes, ms } = JSON.parse(out.trim().split('\n').pop()!) as { peakBytes: number; ms: number };
    // the engine's default VAE batch is 4: every image of these batches goes through one VAE call
    const estimate = estimatePeakBytes(profile, { width: c.width, height: c.height, images: c.batch_size, rowsPerImage: 2, chunks: 1, vaeImages: 4 });
    rows.push({
      size: `${c.width}x${c.height}`,
      batch: c.batch_size,
      peak_rss_mib: Math.round(peakBytes / MiB),
      estimate_mib: Math.round(estimate / MiB),
      estimate_over_peak: (estimate / peakBytes).toFixed(2),
      run_ms: Math.round(ms),
    });
  }
  return writeResult('memory', { model: 'tiny', steps: 1, sampler: 'Euler', cfg_scale: 7, profile }, [
    { title: 'Peak RSS of a render vs the estimate (tiny model, one process per render)', rows },
  ]);
}
