// Production install of one role (gateway | worker) into a fresh folder: only the workspace packages that role needs
// (followed through their package.json dependencies), their production dependencies at the versions locked in
// package-lock.json, no dev dependencies. The Dockerfiles run this, and test/prod-install.test.ts runs it too, so the
// image's install is tested here although Docker is not.
//
// Why not `npm ci --omit=dev --workspace X`: npm installs every workspace's dependencies whatever --workspace says, so
// the gateway would carry onnxruntime-node (~290 MB). Listing only the role's packages as workspaces and letting
// `npm install` prune the full lockfile keeps the locked versions and drops the rest.
//
// Usage: node scripts/prod-install.mjs <gateway|worker> <dest> [--offline]
import { cpSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const ENTRY = { gateway: 'packages/gateway/src/bin.ts', worker: 'packages/worker/src/bin.ts' };

/** The workspace folders a role needs: its own package and every @farm/* package it depends on, transitively. */
export function packagesFor(role, readPkg = (dir) => JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'))) {
  const need = new Set();
  const visit = (dir) => {
    if (need.has(dir)) return;
    need.add(dir);
    for (const dep of Object.keys(readPkg(dir).dependencies ?? {})) {
      if (dep.startsWith('@farm/')) visit(dep.slice('@farm/'.length));
    }
  };
  visit(role);
  return [...need].sort();
}

function main() {
  const [role, dest, ...flags] = process.argv.slice(2);
  if (!ENTRY[role] || !dest) {
    console.error('usage: node scripts/prod-install.mjs <gateway|worker> <dest> [--offline]');
    process.exit(2);
  }
  mkdirSync(dest, { recursive: true });
  const dirs = packagesFor(role);
  for (const dir of dirs) {
    cpSync(join(root, 'packages', dir), join(dest, 'packages', dir), {
      recursive: true,
      filter: (src) => !/\/(node_modules|test)(\/|$)/.test(src.slice(join(root, 'packages', dir).length)),
    });
  }
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  writeFileSync(
    join(dest, 'package.json'),
    JSON.stringify(
      {
        name: `${rootPkg.name}-${role}`,
        private: true,
        type: 'module',
        engines: rootPkg.engines,
        workspaces: dirs.map((d) => `packages/${d}`),
        scripts: { start: `node --import tsx ${ENTRY[role]}` },
      },
      null,
      2,
    ) + '\n',
  );
  cpSync(join(root, 'package-lock.json'), join(dest, 'package-lock.json'));
  if (existsSync(join(root, '.npmrc'))) cpSync(join(root, '.npmrc'), join(dest, '.npmrc'));
  const args = ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts=false'];
  if (flags.includes('--offline')) args.push('--prefer-offline');
  const r = spawnSync('npm', args, { cwd: dest, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  console.log(`${role}: ${dirs.join(', ')} installed in ${dest}; start with: node --import tsx ${ENTRY[role]}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
