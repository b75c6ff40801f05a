// README's configuration table is generated from CONFIG_VARIABLES; this keeps both true: every variable the schema
// reads is documented, nothing documented is unread, and README holds exactly the rendered table.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, configSchema } from '../packages/core/src/config';
import { TABLE_END, TABLE_START, withConfigTable } from '../scripts/config-table';

const documented = CONFIG_VARIABLES.flatMap(([name]) => name.split(' / '));

test('every variable the config schema reads is in CONFIG_VARIABLES, and only those', () => {
  const read = Object.keys(configSchema.shape).sort();
  assert.deepEqual([...documented].sort(), read);
});

test('README holds the table rendered from CONFIG_VARIABLES (run npm run config-table)', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(TABLE_START) && readme.includes(TABLE_END), 'README has the table markers');
  assert.equal(readme, withConfigTable(readme));
  for (const name of documented) assert.ok(readme.includes(`\`${name}\``), `${name} has a row`);
});
