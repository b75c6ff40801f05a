// A Python A1111 client (test/clients/a1111_client.py, urllib only) against a farm: txt2img, img2img, options,
// progress, interrupt, skip, png-info, every list call and a ControlNet unit. Every answer it logs is checked against
// A1111 1.10's response models as written down in test/fixtures/a1111-1.10-models.json.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { USERS } from './helpers/farm';
import { a1111Farm } from './helpers/a1111-farm';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/a1111-1.10-models.json', import.meta.url), 'utf8')) as {
  models: Record<string, Record<string, string>>;
  routes: [string, string, string][];
  option_keys_clients_read: string[];
  option_defaults: Record<string, unknown>;
};

/** Checks a value against a fixture type; returns the problems found (empty when it conforms). */
function conform(value: unknown, type: string, at: string, exact = true): string[] {
  const alternatives = type.split('|');
  if (alternatives.length > 1) {
    const results = alternatives.map((t) => conform(value, t, at, exact));
    return results.some((r) => r.length === 0) ? [] : results.flat();
  }
  const list = /^list\[(.+)]$/.exec(type);
  if (list) return Array.isArray(value) ? value.flatMap((v, i) => conform(v, list[1], `${at}[${i}]`, exact)) : [`${at}: not a list`];
  const dict = /^dict\[(.+)]$/.exec(type);
  if (dict)
    return value && typeof value === 'object' && !Array.isArray(value)
      ? Object.entries(value).flatMap(([k, v]) => conform(v, dict[1], `${at}.${k}`, exact))
      : [`${at}: not a dict`];
  switch (type) {
    case 'any':
      return [];
    case 'null':
      return value === null ? [] : [`${at}: not null`];
    case 'str':
      return typeof value === 'string' ? [] : [`${at}: not a str`];
    case 'int':
      return Number.isInteger(value) ? [] : [`${at}: not an int`];
    case 'float':
      return typeof value === 'number' ? [] : [`${at}: not a float`];
    case 'bool':
      return typeof value === 'boolean' ? [] : [`${at}: not a bool`];
    case 'list':
      return Array.isArray(value) ? [] : [`${at}: not a list`];
    case 'dict':
      return value && typeof value === 'object' && !Array.isArray(value) ? [] : [`${at}: not a dict`];
  }
  const model = fixture.models[type];
  assert.ok(model, `fixture has no model ${type}`);
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [`${at}: not a ${type}`];
  const keys = Object.keys(value);
  const missing = Object.keys(model)
    .filter((k) => !keys.includes(k))
    .map((k) => `${at}: ${type} lacks ${k}`);
  const extra = exact ? keys.filter((k) => !(k in model)).map((k) => `${at}: ${type} has no field ${k}`) : [];
  return [
    ...missing,
    ...extra,
    ...Object.entries(model)
      .filter(([k]) => keys.includes(k))
      .flatMap(([k, t]) => conform((value as Record<string, unknown>)[k], t, `${at}.${k}`, exact)),
  ];
}

test('the conformance check itself: right shapes pass, a missing, extra or mistyped field fails', () => {
  const item = { name: 'Euler', aliases: ['k_euler'], options: {} };
  assert.deepEqual(conform([item], 'list[SamplerItem]', 'x'), []);
  assert.equal(conform([{ ...item, extra: 1 }], 'list[SamplerItem]', 'x').length, 1);
  assert.equal(conform([{ name: 'Euler', options: {} }], 'list[SamplerItem]', 'x').length, 1);
  assert.equal(conform([{ ...item, aliases: [1] }], 'list[SamplerItem]', 'x').length, 1);
  assert.deepEqual(conform({ name: 'x', path: null }, 'HypernetworkItem', 'x'), []);
});

let styles = '';
const farm = a1111Farm(() => {
  styles = join(mkdtempSync(join(tmpdir(), 'a1111-styles-')), 'styles.csv');
  writeFileSync(styles, 'name,prompt,negative_prompt\nwatercolor,"watercolor painting of {prompt}, soft","photo, harsh"\n');
  return { STYLES_FILE: styles };
});
let lines: Record<string, any>[] = [];

test('a Python A1111 client runs its whole session against the farm', async () => {
  const child = spawn('python3', [new URL('./clients/a1111_client.py', import.meta.url).pathname], {
    env: { ...process.env, A1111_URL: farm.url, A1111_AUTH: `alice:${USERS.alice}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  lines = out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const failed = lines.find((l) => l.failed);
  assert.equal(failed, undefined, `the client failed at: ${failed?.failed}`);
  assert.equal(code, 0);
  assert.ok(lines.some((l) => l.done));
});

test("every answer the client got has A1111's shape (fixture from A1111 1.10's models)", () => {
  assert.ok(lines.length > 0, 'the client ran');
  const routes = new Map(fixture.routes.map(([method, path, model]) => [`${method} ${path}`, model]));
  const seen = new Set<string>();
  for (const l of lines.filter((x) => x.call)) {
    const key = `${l.method} ${l.path}`;
    const model =
      routes.get(key) ??
      (/2img$/.test(l.path)
        ? l.path.endsWith('txt2img')
          ? 'TextToImageResponse'
          : 'ImageToImageResponse'
        : l.path.endsWith('png-info')
          ? 'PNGInfoResponse'
          : null);
    if (!model || l.status !== 200) continue;
    seen.add(key);
    assert.deepEqual(conform(l.body, model, key), [], `${l.call}`);
    if (model.endsWith('ToImageResponse')) assert.deepEqual(conform(JSON.parse(l.body.info), 'Info', `${key} info`, false), [], `${l.call} info`);
  }
  for (const key of routes.keys()) assert.ok(seen.has(key), `the client called ${key}`);
});

test("options: the keys clients read, with A1111's defaults", () => {
  const options = lines.find((l) => l.call === 'options')!.body;
  for (const key of fixture.option_keys_clients_read) assert.ok(key in options, key);
  for (const [key, value] of Object.entries(fixture.option_defaults)) assert.deepEqual(options[key], value, key);
});

test('progress while running: state fields, a sampling step, and the interrupted call reports interrupted', () => {
  const progress = lines.find((l) => l.call === 'progress')!.body;
  assert.ok(progress.state.sampling_step > 0 && progress.state.sampling_steps === 150);
  assert.ok(progress.progress > 0 && progress.progress < 1);
  assert.equal(progress.state.job_count, 1);
  const interrupted = lines.find((l) => l.call === 'txt2img interrupted');
  assert.equal(interrupted?.status, 200);
});
