// Finds every *.test.ts under packages/*/test and test/ and runs them with vitest, after the lint.
// Usage: npm test [-- <path filter substring>...]
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const roots = [...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'test')), join(root, 'test')];

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((d) => walk(d, []))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The whole suite starts with the formatter's check (prettier, .prettierrc.json; `npm run format` fixes) and the lint (type-aware rules and package boundaries, eslint.config.js): a failure stops it.
if (filters.length === 0) {
  const eslint = join(root, 'node_modules/eslint/bin/eslint.js');
  if (!existsSync(eslint)) {
    console.error('eslint is not installed: run npm ci');
    process.exit(1);
  }
  const prettier = join(root, 'node_modules/prettier/bin/prettier.cjs');
  const format = spawnSync(process.execPath, [prettier, '--check', '--log-level', 'warn', '.'], { cwd: root, stdio: 'inherit' });
  if (format.status !== 0) {
    console.error('formatting differs (npm run format)');
    process.exit(format.status ?? 1);
  }
  const lint = spawnSync(process.execPath, [eslint, '.'], { cwd: root, stdio: 'inherit' });
  if (lint.status !== 0) {
    console.error('lint failed (npm run lint)');
    process.exit(lint.status ?? 1);
  }
}
// vitest (vitest.config.ts) runs the files; the path filters narrow them as before.
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', ...files], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
