// The OpenAPI 3.1 description served at /openapi.json: one row per route below, with component schemas from
// ./schemas (requests from the zod schemas and A1111 field table that validate them). test/openapi.test.ts checks the
// document with an OpenAPI 3.1 validator and checks that every route the app serves is described here.
import { componentSchemas } from './schemas';

type Schema = Record<string, unknown>;
type Method = 'get' | 'post' | 'delete';
type Tag = 'jobs' | 'resources' | 'a1111' | 'controlnet' | 'extras' | 'service';

interface Route {
  method: Method;
  path: string;
  id: string;
  tag: Tag;
  summary: string;
  body?: Schema;
  /** the success answer: status, description, and a JSON schema or another content type */
  ok?: [number, string, Schema?] | [number, string, string];
  query?: [name: string, schema: Schema, description: string][];
  public?: boolean;
  extra?: Record<string, unknown>;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const anyJson: Schema = {};
const list: Schema = { type: 'array', items: { type: 'object' } };
const obj: Schema = { type: 'object' };

const ROUTES: Route[] = [
  // native job API
  {
    method: 'post',
    path: '/v1/jobs',
    id: 'submitJob',
    tag: 'jobs',
    summary: 'Submit a job: a generation (txt2img, img2img) or an extras upscale (kind "extras")',
    body: { oneOf: [ref('JobRequest'), ref('ExtrasJobRequest')] },
    ok: [202, 'accepted: the job envelope with links', ref('Job')],
  },
  {
    method: 'post',
    path: '/v1/jobs/stream',
    id: 'submitJobAndStream',
    tag: 'jobs',
    summary: 'Submit a job and get its Server-Sent Events as the answer (as GET /v1/jobs/{id}/events: event: status with the job, from queued until it ends)',
    body: { oneOf: [ref('JobRequest'), ref('ExtrasJobRequest')] },
    ok: [200, 'the event stream of the new job', 'text/event-stream'],
  },
  {
    method: 'get',
    path: '/v1/jobs',
    id: 'listJobs',
    tag: 'jobs',
    summary: 'Your jobs, newest first',
    ok: [200, 'a page of jobs', ref('JobList')],
    query: [
      ['limit', { type: 'integer', minimum: 1, maximum: 100, default: 20 }, 'page size'],
      ['offset', { type: 'integer', minimum: 0, default: 0 }, 'jobs to skip'],
    ],
  },
  { method: 'get', path: '/v1/jobs/{id}', id: 'getJob', tag: 'jobs', summary: 'A job', ok: [200, 'the job', ref('Job')] },
  {
    method: 'delete',
    path: '/v1/jobs/{id}',
    id: 'cancelJob',
    tag: 'jobs',
    summary: 'Cancel a job (200 when it ended at once, 202 when a running job will stop between steps)',
    ok: [200, 'the job', ref('Job')],
    extra: { 202: { description: 'cancel requested; the job stops between steps', content: { 'application/json': { schema: ref('Job') } } } },
  },
  {
    method: 'post',
    path: '/v1/jobs/{id}/skip',
    id: 'skipJob',
    tag: 'jobs',
    summary: "Skip: end the running job's current iteration of n_iter (decoded where it stopped) and go on with the next; 409 unless running",
    ok: [202, 'skip requested', ref('Job')],
    extra: { 409: { description: 'the job is not running' } },
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/events',
    id: 'streamJob',
    tag: 'jobs',
    summary: 'Server-Sent Events of the job (event: status, data: the job; event: preview with live previews) until it ends',
    ok: [200, 'the event stream', 'text/event-stream'],
  },
  {
    method: 'get',
    path: '/v1/images/{jobId}/{file}',
    id: 'getImage',
    tag: 'jobs',
    summary: 'A result image',
    ok: [200, 'the image', 'image/png'],
    extra: { 302: { description: 'redirect to a signed storage URL (SIGNED_URLS=true)' } },
  },
  { method: 'get', path: '/v1/models', id: 'listModels', tag: 'resources', summary: 'Models', ok: [200, 'models', obj] },
  { method: 'get', path: '/v1/samplers', id: 'listSamplers', tag: 'resources', summary: 'Samplers and schedule types', ok: [200, 'samplers', obj] },
  { method: 'get', path: '/v1/loras', id: 'listLoras', tag: 'resources', summary: 'LoRAs', ok: [200, 'LoRAs', obj] },
  // A1111
  {
    method: 'post',
    path: '/sdapi/v1/txt2img',
    id: 'a1111Txt2img',
    tag: 'a1111',
    summary: 'txt2img, answered when the images are ready',
    body: ref('A1111Txt2Img'),
    ok: [200, 'images', ref('A1111Response')],
  },
  {
    method: 'post',
    path: '/sdapi/v1/img2img',
    id: 'a1111Img2img',
    tag: 'a1111',
    summary: 'img2img and inpainting, answered when the images are ready',
    body: ref('A1111Img2Img'),
    ok: [200, 'images', ref('A1111Response')],
  },
  {
    method: 'get',
    path: '/sdapi/v1/progress',
    id: 'a1111Progress',
    tag: 'a1111',
    summary: 'Progress of your current job, with a live preview',
    ok: [200, 'progress', obj],
    query: [['skip_current_image', { type: 'boolean', default: false }, 'leave current_image out']],
  },
  {
    method: 'post',
    path: '/sdapi/v1/interrupt',
    id: 'a1111Interrupt',
    tag: 'a1111',
    summary: 'Stop your current job; it returns what it has',
    ok: [200, 'done', anyJson],
  },
  {
    method: 'post',
    path: '/sdapi/v1/skip',
    id: 'a1111Skip',
    tag: 'a1111',
    summary: 'End the current iteration of your job and go on with the next',
    ok: [200, 'done', anyJson],
  },
  {
    method: 'get',
    path: '/sdapi/v1/options',
    id: 'a1111GetOptions',
    tag: 'a1111',
    summary: 'Your options (A1111 keys and defaults)',
    ok: [200, 'options', obj],
  },
  {
    method: 'post',
    path: '/sdapi/v1/options',
    id: 'a1111SetOptions',
    tag: 'a1111',
    summary: 'Store options (per user)',
    body: obj,
    ok: [200, 'stored', anyJson],
  },
  { method: 'get', path: '/sdapi/v1/cmd-flags', id: 'a1111CmdFlags', tag: 'a1111', summary: 'Server flags', ok: [200, 'flags', obj] },
  { method: 'get', path: '/sdapi/v1/samplers', id: 'a1111Samplers', tag: 'a1111', summary: 'Samplers', ok: [200, 'samplers', list] },
  { method: 'get', path: '/sdapi/v1/schedulers', id: 'a1111Schedulers', tag: 'a1111', summary: 'Schedule types', ok: [200, 'schedule types', list] },
  { method: 'get', path: '/sdapi/v1/upscalers', id: 'a1111Upscalers', tag: 'a1111', summary: 'Upscalers', ok: [200, 'upscalers', list] },
  {
    method: 'get',
    path: '/sdapi/v1/latent-upscale-modes',
    id: 'a1111LatentUpscaleModes',
    tag: 'a1111',
    summary: 'Latent upscale modes',
    ok: [200, 'modes', list],
  },
  { method: 'get', path: '/sdapi/v1/sd-models', id: 'a1111SdModels', tag: 'a1111', summary: 'Checkpoints', ok: [200, 'models', list] },
  { method: 'get', path: '/sdapi/v1/sd-vae', id: 'a1111SdVae', tag: 'a1111', summary: 'VAEs', ok: [200, 'VAEs', list] },
  { method: 'get', path: '/sdapi/v1/hypernetworks', id: 'a1111Hypernetworks', tag: 'a1111', summary: 'Hypernetworks (none)', ok: [200, 'hypernetworks', list] },
  { method: 'get', path: '/sdapi/v1/face-restorers', id: 'a1111FaceRestorers', tag: 'a1111', summary: 'Face restorers', ok: [200, 'face restorers', list] },
  { method: 'get', path: '/sdapi/v1/realesrgan-models', id: 'a1111RealesrganModels', tag: 'a1111', summary: 'Real-ESRGAN models', ok: [200, 'models', list] },
  { method: 'get', path: '/sdapi/v1/prompt-styles', id: 'a1111PromptStyles', tag: 'a1111', summary: 'Prompt styles (STYLES_FILE)', ok: [200, 'styles', list] },
  { method: 'get', path: '/sdapi/v1/embeddings', id: 'a1111Embeddings', tag: 'a1111', summary: 'Textual inversion embeddings', ok: [200, 'embeddings', obj] },
  { method: 'get', path: '/sdapi/v1/memory', id: 'a1111Memory', tag: 'a1111', summary: 'Memory of the gateway and the workers', ok: [200, 'memory', obj] },
  { method: 'get', path: '/sdapi/v1/scripts', id: 'a1111Scripts', tag: 'a1111', summary: 'Scripts', ok: [200, 'scripts', obj] },
  { method: 'get', path: '/sdapi/v1/script-info', id: 'a1111ScriptInfo', tag: 'a1111', summary: 'Script details', ok: [200, 'scripts', list] },
  { method: 'get', path: '/sdapi/v1/extensions', id: 'a1111Extensions', tag: 'a1111', summary: 'Extensions', ok: [200, 'extensions', list] },
  { method: 'get', path: '/sdapi/v1/loras', id: 'a1111Loras', tag: 'a1111', summary: 'LoRAs', ok: [200, 'LoRAs', list] },
  {
    method: 'post',
    path: '/sdapi/v1/png-info',
    id: 'a1111PngInfo',
    tag: 'a1111',
    summary: 'Generation parameters of a PNG, JPEG or WebP',
    body: { type: 'object', properties: { image: { type: 'string' } } },
    ok: [200, 'info', obj],
  },
  {
    method: 'post',
    path: '/sdapi/v1/interrogate',
    id: 'a1111Interrogate',
    tag: 'a1111',
    summary: 'Caption an image (no interrogator installed: 501)',
    body: obj,
    ok: [200, 'caption', obj],
  },
  {
    method: 'post',
    path: '/sdapi/v1/refresh-checkpoints',
    id: 'a1111RefreshCheckpoints',
    tag: 'a1111',
    summary: 'Re-read checkpoints',
    ok: [200, 'done', anyJson],
  },
  { method: 'post', path: '/sdapi/v1/refresh-loras', id: 'a1111RefreshLoras', tag: 'a1111', summary: 'Re-read LoRAs', ok: [200, 'done', anyJson] },
  { method: 'post', path: '/sdapi/v1/refresh-vae', id: 'a1111RefreshVae', tag: 'a1111', summary: 'Re-read VAEs', ok: [200, 'done', anyJson] },
  {
    method: 'post',
    path: '/sdapi/v1/refresh-embeddings',
    id: 'a1111RefreshEmbeddings',
    tag: 'a1111',
    summary: 'Re-read embeddings',
    ok: [200, 'done', anyJson],
  },
  {
    method: 'post',
    path: '/sdapi/v1/unload-checkpoint',
    id: 'a1111UnloadCheckpoint',
    tag: 'a1111',
    summary: 'Workers drop their sessions',
    ok: [200, 'done', anyJson],
  },
  {
    method: 'post',
    path: '/sdapi/v1/reload-checkpoint',
    id: 'a1111ReloadCheckpoint',
    tag: 'a1111',
    summary: 'Workers load their model again',
    ok: [200, 'done', anyJson],
  },
  ...(['create/embedding', 'create/hypernetwork', 'train/embedding', 'train/hypernetwork'] as const).map((p): Route => ({
    method: 'post',
    path: `/sdapi/v1/${p}`,
    id: `a1111${p.replace(/(^|\/)(\w)/g, (_m, _s, c: string) => c.toUpperCase())}`,
    tag: 'a1111',
    summary: 'Training: not available on a render farm (501)',
    ok: [501, 'not available', ref('Error')],
  })),
  // A1111 extras: each image an `extras` job on a worker
  {
    method: 'post',
    path: '/sdapi/v1/extra-single-image',
    id: 'a1111ExtraSingleImage',
    tag: 'extras',
    summary: 'Upscale one image (A1111 extras), answered when it is ready',
    body: ref('A1111ExtrasSingleImage'),
    ok: [200, 'the image', ref('A1111ExtrasSingleImageResponse')],
  },
  {
    method: 'post',
    path: '/sdapi/v1/extra-batch-images',
    id: 'a1111ExtraBatchImages',
    tag: 'extras',
    summary: 'Upscale a list of images (A1111 extras), one job each, answered when all are ready',
    body: ref('A1111ExtrasBatchImages'),
    ok: [200, 'the images', ref('A1111ExtrasBatchImagesResponse')],
  },
  // ControlNet extension
  { method: 'get', path: '/controlnet/version', id: 'controlnetVersion', tag: 'controlnet', summary: 'Extension version', ok: [200, 'version', obj] },
  { method: 'get', path: '/controlnet/settings', id: 'controlnetSettings', tag: 'controlnet', summary: 'Extension settings', ok: [200, 'settings', obj] },
  { method: 'get', path: '/controlnet/model_list', id: 'controlnetModels', tag: 'controlnet', summary: 'ControlNet models', ok: [200, 'models', obj] },
  {
    method: 'get',
    path: '/controlnet/module_list',
    id: 'controlnetModules',
    tag: 'controlnet',
    summary: 'Preprocessors',
    ok: [200, 'modules', obj],
    query: [['alias_names', { type: 'boolean', default: false }, 'aliases instead of names']],
  },
  {
    method: 'get',
    path: '/controlnet/control_types',
    id: 'controlnetControlTypes',
    tag: 'controlnet',
    summary: 'Control types',
    ok: [200, 'control types', obj],
  },
  {
    method: 'post',
    path: '/controlnet/detect',
    id: 'controlnetDetect',
    tag: 'controlnet',
    summary: 'Run a preprocessor (canny) on images',
    body: obj,
    ok: [200, 'maps', obj],
  },
  // service
  { method: 'get', path: '/healthz', id: 'healthz', tag: 'service', summary: 'Liveness', ok: [200, 'alive', obj], public: true },
  {
    method: 'get',
    path: '/readyz',
    id: 'readyz',
    tag: 'service',
    summary: 'Readiness (Redis answers); live workers reported',
    ok: [200, 'ready', obj],
    public: true,
    extra: { 503: { description: 'not ready', content: { 'application/json': { schema: obj } } } },
  },
  {
    method: 'get',
    path: '/metrics',
    id: 'metrics',
    tag: 'service',
    summary: 'Prometheus metrics (a login or METRICS_TOKEN)',
    ok: [200, 'metrics', 'text/plain'],
  },
  { method: 'get', path: '/openapi.json', id: 'openapi', tag: 'service', summary: 'This document', ok: [200, 'OpenAPI 3.1', obj] },
  { method: 'get', path: '/docs', id: 'docs', tag: 'service', summary: 'Swagger UI', ok: [200, 'the page', 'text/html'] },
];

/** The routes the document describes, as express writes them (`/v1/jobs/:id`), for the coverage test. */
export function documentedRoutes(): { method: Method; path: string }[] {
  return ROUTES.map((r) => ({ method: r.method, path: r.path.replace(/\{(\w+)\}/g, ':$1') }));
}

const errorResponses = (route: Route): Record<string, unknown> => {
  const a1111 = route.tag === 'a1111' || route.tag === 'extras';
  const json = (schema: Schema) => ({ content: { 'application/json': { schema } } });
  const out: Record<string, unknown> = {};
  if (!route.public) out[401] = { description: 'login required', ...json(ref('Error')) };
  if (route.body || route.query)
    out[422] = a1111
      ? { description: 'invalid request', ...json(ref('HTTPValidationError')) }
      : { description: 'invalid request, naming the field', ...json(ref('Error')) };
  if (route.path.includes('{')) out[404] = { description: 'no such resource (or not yours)', ...json(ref('Error')) };
  if (!route.public) out[503] = { description: 'Redis down, no live worker for the model, or the queue is full', ...json(ref('Error')) };
  if (!route.public) out[429] = { description: 'rate limited; see Retry-After', ...json(ref('Error')) };
  return out;
};

function operation(route: Route): Schema {
  const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  const queryParams = (route.query ?? []).map(([name, schema, description]) => ({ name, in: 'query', required: false, schema, description }));
  const [status, description, schema] = route.ok ?? [200, 'ok', anyJson];
  const content = typeof schema === 'string' ? { [schema]: { schema: { type: 'string' } } } : { 'application/json': { schema: schema ?? anyJson } };
  return {
    operationId: route.id,
    tags: [route.tag],
    summary: route.summary,
    ...(pathParams.length + queryParams.length ? { parameters: [...pathParams, ...queryParams] } : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: route.body } } } } : {}),
    responses: { [status]: { description, content }, ...(route.extra ?? {}), ...errorResponses(route) },
    ...(route.public ? { security: [] } : {}),
  };
}

export function openApiDocument(): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'sd-render-farm',
      version: '0.1.0',
      description: 'Queue-backed Stable Diffusion render farm: the native job API (/v1) and the AUTOMATIC1111 1.10 API (/sdapi/v1).',
    },
    tags: [
      { name: 'jobs', description: 'Native job API: submit, poll, stream, cancel, download' },
      { name: 'resources', description: 'What the farm can run' },
      { name: 'a1111', description: 'AUTOMATIC1111 web UI API (synchronous)' },
      { name: 'extras', description: 'A1111 extras: upscaling' },
      { name: 'controlnet', description: 'sd-webui-controlnet extension API' },
      { name: 'service', description: 'Health, metrics, this document' },
    ],
    components: {
      securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } },
      schemas: componentSchemas(),
    },
    security: [{ basic: [] }, { bearer: [] }],
    paths,
  };
}
