// The OpenAPI 3.1 description of the native and A1111-compatible routes, served at /openapi.json.
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ok = (description: string, schema: object = { type: 'object' }) => ({ description, ...json(schema) });
const errors = { 401: { description: 'login required' }, 422: { description: 'invalid request (A1111 routes: FastAPI `{detail: [...]}`)' }, 503: { description: 'queue full or Redis down' } };

const generation = {
  type: 'object',
  properties: {
    prompt: { type: 'string' }, negative_prompt: { type: 'string', default: '' }, seed: { type: 'integer', default: -1 },
    sampler_name: { type: 'string' }, sampler_index: { type: 'string', default: 'Euler' }, scheduler: { type: 'string', default: 'Automatic' },
    batch_size: { type: 'integer', default: 1 }, n_iter: { type: 'integer', default: 1 }, steps: { type: 'integer', default: 50 },
    cfg_scale: { type: 'number', default: 7 }, width: { type: 'integer', default: 512 }, height: { type: 'integer', default: 512 },
    denoising_strength: { type: 'number', default: 0.75 }, init_images: { type: 'array', items: { type: 'string', format: 'byte' } },
    override_settings: { type: 'object', properties: { sd_model_checkpoint: { type: 'string' } } }, send_images: { type: 'boolean', default: true },
    alwayson_scripts: { type: 'object', description: 'ControlNet units under controlnet.args' },
  },
};

export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'sd-render-farm', version: '0.1.0', description: 'Queue-backed Stable Diffusion render farm: native job API and AUTOMATIC1111-compatible API.' },
    components: {
      securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        JobRequest: {
          type: 'object', required: ['prompt'],
          properties: {
            prompt: { type: 'string' }, negative_prompt: { type: 'string' }, model: { type: 'string' }, sampler: { type: 'string', default: 'Euler a' },
            scheduler: { type: 'string', default: 'Automatic' }, discretization: { enum: ['diffusers', 'a1111'], default: 'diffusers' },
            steps: { type: 'integer', default: 20 }, cfg_scale: { type: 'number', default: 7 },
            width: { type: 'integer', default: 512 }, height: { type: 'integer', default: 512 }, seed: { type: 'integer', default: -1 },
            batch_size: { type: 'integer', default: 1 }, n_iter: { type: 'integer', default: 1 }, init_image: { type: 'string' },
            denoising_strength: { type: 'number', default: 0.75 }, resize_mode: { type: 'integer', default: 0 },
            loras: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, weight: { type: 'number' } } } },
            webhook: { oneOf: [{ type: 'string', format: 'uri' }, { type: 'object', properties: { url: { type: 'string' }, events: { type: 'array', items: { enum: ['start', 'progress', 'completed'] } } } }] },
            priority: { type: 'integer' }, idempotency_key: { type: 'string' },
          },
        },
        Job: { type: 'object', properties: { id: { type: 'string' }, status: { enum: ['queued', 'running', 'succeeded', 'failed', 'canceled'] }, progress: { type: 'object' }, output: { type: 'object' }, error: { type: 'string' } } },
        A1111Generation: generation,
        A1111Response: { type: 'object', properties: { images: { type: 'array', items: { type: 'string', format: 'byte' } }, parameters: { type: 'object' }, info: { type: 'string' } } },
      },
    },
    security: [{ basic: [] }, { bearer: [] }],
    paths: {
      '/v1/jobs': {
        post: { summary: 'Submit a job', requestBody: json(ref('JobRequest')), responses: { 202: ok('accepted', ref('Job')), ...errors } },
        get: { summary: 'Your jobs, newest first', parameters: [{ name: 'limit', in: 'query' }, { name: 'offset', in: 'query' }], responses: { 200: ok('jobs') } },
      },
      '/v1/jobs/{id}': {
        get: { summary: 'A job', parameters: [{ name: 'id', in: 'path', required: true }], responses: { 200: ok('the job', ref('Job')), 404: { description: 'no such job' } } },
        delete: { summary: 'Cancel a job', parameters: [{ name: 'id', in: 'path', required: true }], responses: { 200: ok('canceled'), 202: ok('cancel requested') } },
      },
      '/v1/jobs/{id}/events': { get: { summary: 'Server-Sent Events of the job until it ends', parameters: [{ name: 'id', in: 'path', required: true }], responses: { 200: { description: 'text/event-stream' } } } },
      '/v1/images/{id}/{file}': { get: { summary: 'A result image', parameters: [{ name: 'id', in: 'path', required: true }, { name: 'file', in: 'path', required: true }], responses: { 200: { description: 'image/png' }, 302: { description: 'signed URL' } } } },
      '/v1/models': { get: { summary: 'Models', responses: { 200: ok('models') } } },
      '/v1/samplers': { get: { summary: 'Samplers and schedule types', responses: { 200: ok('samplers') } } },
      '/sdapi/v1/txt2img': { post: { summary: 'A1111 txt2img', requestBody: json(ref('A1111Generation')), responses: { 200: ok('images', ref('A1111Response')), ...errors } } },
      '/sdapi/v1/img2img': { post: { summary: 'A1111 img2img', requestBody: json(ref('A1111Generation')), responses: { 200: ok('images', ref('A1111Response')), ...errors } } },
      '/sdapi/v1/progress': { get: { summary: 'Progress of your current job', responses: { 200: ok('progress') } } },
      '/sdapi/v1/interrupt': { post: { summary: 'Cancel your current jobs', responses: { 200: ok('done') } } },
      '/sdapi/v1/skip': { post: { summary: 'Same as interrupt', responses: { 200: ok('done') } } },
      '/sdapi/v1/sd-models': { get: { summary: 'Checkpoints', responses: { 200: ok('models') } } },
      '/sdapi/v1/options': { get: { summary: 'Your options', responses: { 200: ok('options') } }, post: { summary: 'Set sd_model_checkpoint', requestBody: json({ type: 'object' }), responses: { 200: ok('saved'), 422: errors[422] } } },
      '/sdapi/v1/samplers': { get: { summary: 'Samplers', responses: { 200: ok('samplers') } } },
      '/sdapi/v1/schedulers': { get: { summary: 'Schedule types', responses: { 200: ok('schedulers') } } },
      '/sdapi/v1/loras': { get: { summary: 'LoRAs', responses: { 200: ok('loras') } } },
      '/sdapi/v1/png-info': { post: { summary: 'Generation parameters of a PNG', requestBody: json({ type: 'object', properties: { image: { type: 'string' } } }), responses: { 200: ok('info') } } },
      '/sdapi/v1/refresh-checkpoints': { post: { summary: 'Re-read checkpoints', responses: { 200: ok('done') } } },
      '/sdapi/v1/refresh-loras': { post: { summary: 'Re-read LoRAs', responses: { 200: ok('done') } } },
      '/sdapi/v1/cmd-flags': { get: { summary: 'Server flags', responses: { 200: ok('flags') } } },
      '/controlnet/model_list': { get: { summary: 'ControlNet models', responses: { 200: ok('models') } } },
      '/controlnet/module_list': { get: { summary: 'ControlNet preprocessors', responses: { 200: ok('modules') } } },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { 200: ok('ok') } } },
      '/readyz': { get: { summary: 'Readiness', security: [], responses: { 200: ok('ready'), 503: { description: 'not ready' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text/plain' } } } },
    },
  };
}
