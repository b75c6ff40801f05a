// npm test [-- <path substring>...]: the whole suite first checks the formatting (prettier, .prettierrc.json;
// `npm run format` fixes) and runs the lint (type-aware rules and package boundaries, eslint.config.js), and a failure
// stops it; then vitest runs the test files vitest.config.ts finds, narrowed to paths containing a substring when given.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const run = (script, args) => spawnSync(process.execPath, [join(root, script), ...args], { cwd: root, stdio: 'inherit' }).status ?? 1;

const filters = process.argv.slice(2);
if (filters.length === 0) {
  if (!existsSync(join(root, 'node_modules/eslint/bin/eslint.js'))) {
    console.error('eslint is not installed: run npm ci');
    process.exit(1);
  }
  if (run('node_modules/prettier/bin/prettier.cjs', ['--check', '--log-level', 'warn', '.']) !== 0) {
    console.error('formatting differs (npm run format)');
    process.exit(1);
  }
  if (run('node_modules/eslint/bin/eslint.js', ['.']) !== 0) {
    console.error('lint failed (npm run lint)');
    process.exit(1);
  }
}
process.exit(run('node_modules/vitest/vitest.mjs', ['run', ...filters]));
