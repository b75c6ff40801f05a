// Each workspace package declares, in its own package.json, every package its source imports: the production images
// install a role's packages alone (scripts/prod-install.mjs), so an import that only the root's dev install satisfies
// would pass every other test and fail in the image.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packagesDir = join(root, 'packages');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|mjs|js)$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The package names a source text imports, statically or dynamically (type-only imports excluded). */
export function importedPackages(text: string): string[] {
  const names = new Set<string>();
  const specifiers = [
    ...text.matchAll(/^\s*import\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm),
    ...text.matchAll(/^\s*export\s+(?!type\s)[^'";]*?\s+from\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]);
  for (const spec of specifiers) {
    if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) continue;
    names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  }
  return [...names];
}

test('importedPackages reads value imports and ignores relative, builtin and type-only ones', () => {
  const text = [
    "import { a } from 'express';",
    "import type { B } from 'bullmq';",
    "import * as ort from 'onnxruntime-node';",
    "import sharp from 'sharp';",
    "import { c } from '@farm/core';",
    "import { d } from '@aws-sdk/client-s3/dist';",
    "import { e } from './local';",
    "import { f } from 'node:fs';",
    "import { g } from 'path';",
    "export { h } from 'zod';",
    "const m = await import('pino');",
    "import 'tsx';",
  ].join('\n');
  assert.deepEqual(importedPackages(text).sort(), ['@aws-sdk/client-s3', '@farm/core', 'express', 'onnxruntime-node', 'pino', 'sharp', 'tsx', 'zod']);
});

test('every workspace package declares the packages its source imports', () => {
  const problems: string[] = [];
  for (const dir of readdirSync(packagesDir)) {
    const pkg = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8'));
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}), pkg.name]);
    for (const file of sourceFiles(join(packagesDir, dir, 'src'))) {
      for (const name of importedPackages(readFileSync(file, 'utf8'))) {
        if (!declared.has(name)) problems.push(`${file.slice(root.length)} imports ${name}, which packages/${dir}/package.json does not declare`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('only the worker (and the tools that run it) depends on onnxruntime-node; the engine takes it as an optional peer', () => {
  const dependents = readdirSync(packagesDir).filter((dir) => {
    const pkg = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8'));
    return Object.keys(pkg.dependencies ?? {}).includes('onnxruntime-node');
  });
  assert.deepEqual(dependents, ['worker']);
});
