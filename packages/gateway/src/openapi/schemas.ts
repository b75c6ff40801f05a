// The component schemas of /openapi.json. Request bodies come from the same definitions that validate requests:
// the native JobRequest from core's zod schema (through zod-to-json-schema), A1111's txt2img/img2img bodies from
// core's table of A1111 1.10 fields and defaults. Responses are written here as JSON Schema (they are built by code,
// not validated), and test/openapi.test.ts checks them against real answers.
import { zodToJsonSchema } from 'zod-to-json-schema';
import type { z } from 'zod';
import { a1111Fields, controlNetUnitSchema, jobRequestSchema, type A1111Kind } from '@farm/core';

type Schema = Record<string, unknown>;

export function fromZod(schema: z.ZodTypeAny): Schema {
  const { $schema: _ignored, ...json } = zodToJsonSchema(schema, { $refStrategy: 'none', target: 'jsonSchema2019-09' }) as Schema;
  return json;
}

const A1111_TYPES: Record<string, Schema> = {
  str: { type: 'string' }, int: { type: 'integer' }, float: { type: 'number' }, bool: { type: 'boolean' },
  list: { type: 'array', items: {} }, dict: { type: 'object' }, any: {},
};

/** An A1111 request model: every field optional and nullable (as its pydantic model), with A1111's default. */
export function a1111RequestSchema(kind: A1111Kind): Schema {
  const properties: Record<string, Schema> = {};
  for (const [name, [type, def]] of Object.entries(a1111Fields(kind))) {
    const base = A1111_TYPES[type] ?? {};
    properties[name] = { ...base, type: base.type ? [base.type, 'null'] : undefined, default: def };
    if (!base.type) delete properties[name].type;
  }
  return { type: 'object', properties, additionalProperties: true, description: `A1111 1.10's StableDiffusion${kind === 'txt2img' ? 'Txt2Img' : 'Img2Img'}ProcessingAPI` };
}

const nullable = (s: Schema): Schema => ({ ...s, type: [s.type as string, 'null'] });
const str = { type: 'string' };
const int = { type: 'integer' };
const num = { type: 'number' };
const dateTime = { type: 'string', format: 'date-time' };

const job: Schema = {
  type: 'object',
  required: ['id', 'owner', 'status', 'input', 'output', 'error', 'progress', 'queue_position', 'webhook', 'deliveries', 'created_at', 'started_at', 'completed_at', 'worker_id', 'attempts', 'links'],
  properties: {
    id: str, owner: str,
    status: { enum: ['queued', 'running', 'succeeded', 'failed', 'canceled'] },
    input: { type: 'object', description: 'the resolved request (defaults filled in, the seed fixed); images replaced by has_* flags' },
    output: {
      type: ['object', 'null'],
      properties: { images: { type: 'array', items: { type: 'string', description: 'URL of the image, /v1/images/<id>/<n>.png' } }, seeds: { type: 'array', items: int }, infotexts: { type: 'array', items: str } },
    },
    error: nullable(str),
    progress: { type: ['object', 'null'], properties: { step: int, steps: int, eta_seconds: nullable(num) } },
    queue_position: nullable(int),
    webhook: { type: ['object', 'null'], properties: { url: str, events: { type: 'array', items: { enum: ['start', 'progress', 'completed'] } } } },
    deliveries: { type: 'array', items: { type: 'object', properties: { event: str, attempt: int, status: nullable(int), ok: { type: 'boolean' }, at: dateTime, error: str } } },
    cancel_requested: { type: 'boolean' },
    created_at: dateTime, started_at: nullable(dateTime), completed_at: nullable(dateTime),
    worker_id: nullable(str), attempts: int, batch_size: nullable(int),
    metrics: { type: 'object', properties: { queue_seconds: nullable(num), run_seconds: nullable(num), total_seconds: nullable(num) } },
    links: { type: 'object', properties: { self: str, events: str, cancel: str } },
  },
};

export function componentSchemas(): Record<string, Schema> {
  return {
    JobRequest: fromZod(jobRequestSchema),
    ControlNetUnit: fromZod(controlNetUnitSchema),
    Job: job,
    JobList: { type: 'object', required: ['jobs', 'total'], properties: { jobs: { type: 'array', items: { $ref: '#/components/schemas/Job' } }, total: int, limit: int, offset: int } },
    Error: {
      type: 'object', required: ['error'],
      properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: str, message: str, field: str } }, detail: {} },
    },
    HTTPValidationError: {
      type: 'object', description: "FastAPI's 422 body (A1111 routes)",
      properties: { detail: { type: 'array', items: { type: 'object', properties: { loc: { type: 'array', items: { type: ['string', 'integer'] } }, msg: str, type: str } } } },
    },
    A1111Txt2Img: a1111RequestSchema('txt2img'),
    A1111Img2Img: a1111RequestSchema('img2img'),
    A1111Response: {
      type: 'object', required: ['images', 'parameters', 'info'],
      properties: { images: { type: 'array', items: { type: 'string', contentEncoding: 'base64' } }, parameters: { type: 'object' }, info: { type: 'string', description: 'JSON text, as A1111' } },
    },
  };
}
