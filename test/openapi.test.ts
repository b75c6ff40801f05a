// /openapi.json is a valid OpenAPI 3.1 document (checked by an independent validator), describes every route the
// gateway serves and nothing it does not, and /docs is Swagger UI with its assets served by the gateway.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { jobRequestSchema, loadConfig } from '@farm/core';
import { startGateway } from '@farm/gateway';
import { startRedis, ensureTinyModel } from '@farm/testkit';
import { documentedRoutes, openApiDocument } from '../packages/gateway/src/openapi/document';

const redis = await startRedis({ appendonly: false });
const { modelsDir } = await ensureTinyModel();
const gateway = await startGateway(
  loadConfig({
    REDIS_URL: redis.url,
    PORT: '0',
    QUEUE_PREFIX: 'openapi',
    MODELS_DIR: modelsDir,
    AUTH_DISABLED: 'true',
    LOG_LEVEL: 'silent',
    SHUTDOWN_DRAIN_MS: '0',
  }),
);
afterAll(async () => {
  await gateway.close();
  await redis.stop();
});

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every method + path the express app routes (express 5: app.router.stack, routers nested at '/'). */
function appRoutes(): { method: string; path: string }[] {
  const app = gateway.server.listeners('request')[0] as unknown as { router: { stack: Layer[] } };
  const out: { method: string; path: string }[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const path of [layer.route.path].flat()) {
          for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push({ method, path });
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk(app.router.stack);
  return out;
}

test('the document is valid OpenAPI 3.1', async () => {
  const doc = await (await fetch(`${gateway.url}/openapi.json`)).json();
  const result = await new Validator().validate(doc);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1)?.slice(0, 3000));
  assert.equal(doc.openapi, '3.1.0');
});

test('every operation has a unique operationId, a tag, and typed parameters', () => {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { operationId: string; tags: string[]; parameters?: { schema?: unknown }[] }>> };
  const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
  assert.equal(new Set(ids).size, ids.length, 'duplicate operationId');
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      assert.ok(op.tags?.length, `${method} ${path} has no tag`);
      for (const p of op.parameters ?? []) assert.ok(p.schema, `${method} ${path}: a parameter without a schema`);
    }
  }
});

test('the document describes exactly the routes the gateway serves', () => {
  const key = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;
  const served = new Set(appRoutes().map(key));
  const documented = new Set(documentedRoutes().map(key));
  assert.ok(served.size > 40, `found only ${served.size} routes: the route walk is broken`);
  const undocumented = [...served].filter((r) => !documented.has(r) && !r.startsWith('GET /docs/')).sort();
  const missing = [...documented].filter((r) => !served.has(r)).sort();
  assert.deepEqual(undocumented, [], 'routes the document lacks');
  assert.deepEqual(missing, [], 'documented routes the gateway does not serve');
});

test('the native request schema is the zod schema that validates requests', () => {
  const doc = openApiDocument() as { components: { schemas: Record<string, { properties: Record<string, unknown>; additionalProperties?: unknown }> } };
  const schema = doc.components.schemas.JobRequest;
  assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(jobRequestSchema.shape).sort());
  assert.equal(schema.additionalProperties, false, 'the zod schema is strict: unknown fields are refused');
  assert.deepEqual((schema.properties.steps as { default: number }).default, 20);
});

test('/docs is Swagger UI, its assets served here (no CDN, no inline script)', async () => {
  const page = await fetch(`${gateway.url}/docs`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /swagger-ui-bundle\.js/);
  assert.ok(!/<script>[^<]/.test(html), 'inline script');
  assert.ok(!/https?:\/\//.test(html), 'a remote asset');
  for (const src of [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])) {
    const res = await fetch(`${gateway.url}${src}`);
    assert.equal(res.status, 200, src);
    await res.arrayBuffer();
  }
});
