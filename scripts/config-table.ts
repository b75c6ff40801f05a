// Writes README's configuration table from CONFIG_VARIABLES (packages/core/src/config.ts), the one list of the
// variables the config schema reads. `npm run config-table` rewrites README.md; test/readme-config.test.ts fails
// when README and the list disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES } from '../packages/core/src/config';

export const TABLE_START = '<!-- config-table:start (npm run config-table) -->';
export const TABLE_END = '<!-- config-table:end -->';

export function renderConfigTable(): string {
  const rows = CONFIG_VARIABLES.map(([name, def, meaning]) => {
    const names = name
      .split(' / ')
      .map((n) => `\`${n}\``)
      .join(' / ');
    return `| ${names} | ${def} | ${meaning} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** README text with the part between the markers replaced by the rendered table. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${TABLE_START} ... ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${renderConfigTable()}\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = fileURLToPath(new URL('../README.md', import.meta.url));
  writeFileSync(path, withConfigTable(readFileSync(path, 'utf8')));
  console.log('README.md configuration table written');
}
