// Prints markdown tables and writes bench/results/<suite>.json with the machine, versions and settings.
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem, platform, release, arch } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = new URL('../..', import.meta.url).pathname;

export type Row = Record<string, string | number>;

export function machine() {
  const version = (pkg: string) => {
    try {
      return require(`${pkg}/package.json`).version as string;
    } catch {
      return 'n/a';
    }
  };
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    onnxruntime_node: version('onnxruntime-node'),
    sharp: version('sharp'),
    bullmq: version('bullmq'),
  };
}

export function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

export function table(title: string, rows: Row[]): string {
  if (rows.length === 0) return `### ${title}\n\n(no rows)\n`;
  const cols = Object.keys(rows[0]);
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [`### ${title}`, '', line(cols), line(cols.map(() => '---')), ...rows.map((r) => line(cols.map((c) => r[c] ?? ''))), ''].join('\n');
}

export function writeResult(suite: string, settings: unknown, tables: { title: string; rows: Row[] }[]): string {
  const dir = join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}.json`);
  writeFileSync(file, JSON.stringify({ suite, at: new Date().toISOString(), machine: machine(), settings, tables }, null, 2));
  for (const t of tables) console.log(table(t.title, t.rows));
  console.log(`wrote ${file}`);
  return file;
}
