// The lean JSON body reader answers as body-parser (express.json, its oracle here) does: the same status and the same
// parsed body for the common case and its edge cases, and the unusual bodies go to body-parser itself.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { createServer, type Server } from 'node:http';
import express, { type RequestHandler } from 'express';
import { jsonBody, parseJsonBody } from '../src/json-body';
import { errorHandler } from '../src/http-errors';

async function serve(parser: RequestHandler): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use(parser);
  app.post('/echo', (req, res) => {
    res.json({ body: req.body as unknown, kind: Array.isArray(req.body) ? 'array' : typeof req.body });
  });
  app.use(errorHandler(() => {}));
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server };
}

const lean = await serve(jsonBody('1kb'));
const oracle = await serve(express.json({ limit: '1kb' }));
afterAll(() => {
  lean.server.close();
  oracle.server.close();
});

const cases: [name: string, body: string | Blob, headers: Record<string, string>][] = [
  ['an object', '{"prompt":"a lighthouse","steps":4}', {}],
  ['an object with leading whitespace', ' \n\t{"a":[1,2,{"b":null}]}', {}],
  ['an array', '[1,"x"]', {}],
  ['an empty body', '', {}],
  ['a UTF-8 byte order mark', '\uFEFF{"a":"ü"}', {}],
  ['non-ASCII text', '{"prompt":"灯塔, une île"}', {}],
  ['malformed', '{"prompt": ', {}],
  ['a number at the top', '123', {}],
  ['a string at the top', '"text"', {}],
  ['a word', 'abc', {}],
  ['charset utf-8 named', '{"a":1}', { 'content-type': 'application/json; charset=UTF-8' }],
  ['gzip (body-parser inflates it)', new Blob([new Uint8Array(gzipSync('{"a":2}'))]), { 'content-encoding': 'gzip' }],
  ['over the limit', `{"a":"${'x'.repeat(2000)}"}`, {}],
  ['another charset', '{"a":1}', { 'content-type': 'application/json; charset=latin1' }],
  ['not JSON by its type', '{"a":1}', { 'content-type': 'text/plain' }],
];

test('parseJsonBody: strict JSON as body-parser parses it; refusals carry its error type', () => {
  assert.deepEqual(parseJsonBody('{"a":1}'), { a: 1 });
  assert.deepEqual(parseJsonBody(''), {});
  assert.throws(
    () => parseJsonBody('7'),
    (e: { type?: string; status?: number }) => e.type === 'entity.parse.failed' && e.status === 400,
  );
  assert.throws(
    () => parseJsonBody('{'),
    (e: { type?: string; status?: number }) => e.type === 'entity.parse.failed' && e.status === 400,
  );
});

test('every body gets the answer body-parser gives: status, parsed value and error code', async () => {
  for (const [name, body, headers] of cases) {
    const send = (url: string) =>
      fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(async (r) => ({
        status: r.status,
        json: (await r.json()) as { body?: unknown; kind?: string; error?: { code: string } },
      }));
    const [mine, theirs] = await Promise.all([send(lean.url), send(oracle.url)]);
    assert.equal(mine.status, theirs.status, name);
    if (theirs.status === 200) assert.deepEqual(mine.json, theirs.json, name);
    else assert.equal(mine.json.error?.code, theirs.json.error?.code, name);
  }
});
