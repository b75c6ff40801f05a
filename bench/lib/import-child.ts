// One checkpoint import in a process of its own, so its peak RSS (VmHWM) is the import's: prints a JSON line.
import { readFileSync } from 'node:fs';
import { importCheckpoint } from '@farm/modelgen';

const [source, outDir, tokenizerDir] = process.argv.slice(2);
const t0 = performance.now();
await importCheckpoint(source, { outDir, tokenizerDir });
const ms = performance.now() - t0;
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ ms, peakRssMiB: hwm ? Number(hwm[1]) / 1024 : process.memoryUsage().rss / 2 ** 20 }));
