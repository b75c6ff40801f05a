// All configuration comes from the environment, parsed once at boot by one schema; a bad value stops the process
// with a message naming the variable. Packages receive the parsed object, never process.env.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import ipaddr from 'ipaddr.js';
import { z } from 'zod/v4';

/** BODY_LIMIT's form: `<n>kb` or `<n>mb` */
const BODY_LIMIT_FORMAT = /^(\d+)(kb|mb)$/i;

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);

/** ENGINE_NICE's default (benchmarks that start workers themselves run them as deployed) */
export const DEFAULT_ENGINE_NICE = 10;

export const CONFIG_VARIABLES = [
  ['PORT', '7860', 'HTTP port of the gateway'],
  ['HOST', '127.0.0.1', 'address the gateway binds (0.0.0.0 in containers)'],
  ['REDIS_URL', '(unset)', 'Redis for the queue; `npm start` spawns a private redis-server when unset'],
  ['QUEUE_PREFIX', 'farm', 'key prefix of every Redis key and BullMQ queue'],
  ['MODELS_DIR', './models', 'models: ONNX folders, `.safetensors` checkpoints and diffusers folders (see Models)'],
  ['LORA_DIR', './loras', 'LoRA .safetensors files'],
  ['UPSCALERS_DIR', './upscalers', 'upscaler models (`<name>.onnx`, ESRGAN-style image to image), for hires fix and extras'],
  ['DATA_DIR', './data', 'result images when STORAGE=fs'],
  ['STYLES_FILE', './styles.csv', "prompt styles in A1111's styles.csv format (name,prompt,negative_prompt) for `styles` and /sdapi/v1/prompt-styles"],
  [
    'EMBEDDINGS_DIR',
    './embeddings',
    'textual inversion embeddings (`<name>.safetensors`; pickles are never opened): the name in a prompt stands for its vectors',
  ],
  ['VAE_DIR', './vae', "VAEs for A1111's `sd_vae` and /sdapi/v1/sd-vae: ONNX folders with vae_decoder/model.onnx (gateways and workers)"],
  ['STORAGE', 'fs', '`fs` or `s3`'],
  ['S3_BUCKET', 'renders', 'bucket for STORAGE=s3'],
  ['S3_REGION', 'us-east-1', 'region for STORAGE=s3'],
  ['S3_ENDPOINT', '(AWS)', 'endpoint of an S3-compatible store (MinIO, OSS)'],
  ['S3_FORCE_PATH_STYLE', 'false', 'path-style bucket addressing (MinIO, s3rver)'],
  ['S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY', '(SDK default chain)', 'S3 credentials'],
  ['SIGNED_URLS', 'false', 'redirect image downloads to signed S3 URLs'],
  ['MAX_BATCH', '4', 'jobs a worker runs as one UNet batch'],
  ['MAX_PIXELS', '1048576', 'largest width x height accepted'],
  ['MAX_STEPS', '150', 'largest steps accepted'],
  ['MAX_IMAGES_PER_REQUEST', '16', 'largest batch_size x n_iter accepted'],
  ['MAX_PROMPT_CHUNKS', '20', 'most 75-token chunks a prompt or negative prompt may take (BREAK starts one); more is refused with 422 naming the field'],
  [
    'WORKER_MEMORY_BYTES',
    "(80% of the host's or container's memory)",
    'memory a worker may use (bytes; suffixes K, M, G, T: binary): it splits batches to fit and advertises it, and gateways refuse (422) sizes that fit no live worker',
  ],
  ['MAX_QUEUED', '1000', 'waiting jobs before submissions get 503'],
  ['MAX_QUEUED_PER_USER', '100', 'jobs one user may have queued or running before submissions get 429'],
  ['RATE_LIMIT_SUBMITS', '120', 'job submissions per user per minute, as a bucket of that size refilled evenly (0: no limit); more get 429 + Retry-After'],
  ['RATE_LIMIT_REQUESTS', '1200', 'requests per user per minute on every route behind login (0: no limit); more get 429 + Retry-After'],
  ['JOB_ATTEMPTS', '3', 'runs of a job before it fails for good (worker crash, engine or storage error); bad input never retries'],
  ['STORAGE_ATTEMPTS', '4', 'tries to store each result image (backoff 0.5 s, 1 s, 2 s, ...) before the attempt of the job fails'],
  ['SHUTDOWN_DRAIN_MS', '5000', 'after SIGTERM the gateway keeps serving this long with /readyz 503 and `Connection: close`, then stops accepting'],
  ['SHUTDOWN_TIMEOUT_MS', '30000', 'longest wait at shutdown for requests in flight (A1111 calls waiting for their images)'],
  ['DEFAULT_MODEL', '(first model)', 'model used when a request names none'],
  ['EXECUTION_PROVIDERS', 'cpu', 'onnxruntime providers in order: cpu, cuda, tensorrt'],
  ['ORT_THREADS', '(onnxruntime default)', 'intra-op threads per session'],
  [
    'ORT_SPINNING',
    'false',
    "onnxruntime's threads spin while waiting for the next operator: off, since a worker shares its cores with its own event loop (and often Redis and a gateway); turn on where the engine has the cores to itself",
  ],
  [
    'ENGINE_NICE',
    String(DEFAULT_ENGINE_NICE),
    "nice value of a worker's engine thread and its compute threads (Linux; 0-19): its event loop, Redis and a gateway on the same host get a core before the engine's compute does; 0 (or the process's own nice): unchanged",
  ],
  ['GRAPH_FLAVOUR', 'auto', 'model graphs to open: `auto` (model.gpu.onnx when the first provider is cuda or tensorrt, else model.onnx), `portable`, `gpu`'],
  [
    'SESSION_CACHE_BYTES',
    '(half the host memory)',
    "weights a worker keeps loaded, in bytes (suffixes K, M, G, T: binary): models' base networks stay pinned, LoRA-merged sessions go first, a LoRA set that does not fit is refused rather than exceed it; on a GPU set it to the device memory less the activations",
  ],
  ['GPU_DEVICE_ID', '0', 'CUDA device the cuda and tensorrt providers run on'],
  ['TRT_FP16', 'true', 'TensorRT builds float16 engines (ORT_TENSORRT_FP16_ENABLE)'],
  [
    'TRT_ENGINE_CACHE_DIR',
    '(none)',
    'TensorRT engine cache folder (ORT_TENSORRT_ENGINE_CACHE_ENABLE/ORT_TENSORRT_CACHE_PATH); a volume keeps engines across restarts',
  ],
  ['WEBHOOK_SECRET', '(random per process)', 'Standard Webhooks signing secret, `whsec_<base64>`'],
  ['WEBHOOK_ALLOW_PRIVATE', 'false', 'allow webhook URLs on loopback/private addresses'],
  ['WEBHOOK_ALLOWED_HOSTS', '(none)', 'comma-separated webhook hosts allowed even when they resolve to private addresses (internal services)'],
  ['BODY_LIMIT', '20mb', 'largest request body'],
  ['AUTH_USERS', '(none)', 'comma-separated `user:scrypt$...` hashes (`npm run hash-password`)'],
  ['AUTH_API_KEYS', '(none)', 'comma-separated `sha256hex:user` API keys'],
  ['AUTH_DISABLED', 'false', 'no login; everyone is user `anonymous`'],
  [
    'TRUST_PROXY',
    '(none)',
    'proxies whose `X-Forwarded-For`/`-Proto`/`-Host` are believed: comma-separated addresses, CIDRs or `loopback`, `linklocal`, `uniquelocal`, or a hop count; unset: the socket address is the client',
  ],
  ['LOG_LEVEL', 'info', 'pino log level'],
  ['LOG_FORMAT', 'json', '`json` (one JSON object a line, for log collectors) or `pretty` (human-readable; `npm start` sets it)'],
  ['METRICS_TOKEN', '(none)', "a Bearer token that may read a gateway's /metrics without a user login (for Prometheus)"],
  ['WORKER_HEALTH_PORT', '(off)', "port of a worker's /healthz (liveness) and /metrics (Prometheus); 9465 in the worker image"],
  ['WORKER_STUCK_SECONDS', '300', "a worker's /healthz answers 503 when its loop has made no progress (no fetch, no step) this long"],
  [
    'WORKER_MODELS',
    '(all)',
    "comma-separated models this worker takes jobs for (one worker deployment per model, scaled on that model's queue); unset: every model in MODELS_DIR",
  ],
  [
    'MODEL_SWITCH_AFTER_MS',
    '500',
    "an idle worker loads another model for a job only once that job has waited this long with no worker that holds the model warm taking it (set near a model's load time); a model no worker holds is taken at once",
  ],
] as const;

export const configSchema = z.object({
  PORT: int(0).max(65535).default(7860),
  HOST: z.string().default('127.0.0.1'),
  REDIS_URL: z.string().url().optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[\w-]+$/)
    .default('farm'),
  MODELS_DIR: z.string().default('./models'),
  LORA_DIR: z.string().default('./loras'),
  UPSCALERS_DIR: z.string().default('./upscalers'),
  DATA_DIR: z.string().default('./data'),
  STYLES_FILE: z.string().default('./styles.csv'),
  EMBEDDINGS_DIR: z.string().default('./embeddings'),
  VAE_DIR: z.string().default('./vae'),
  STORAGE: z.enum(['fs', 's3']).default('fs'),
  S3_BUCKET: z.string().min(3).default('renders'),
  S3_REGION: z.string().default('us-east-1'),
  S3_ENDPOINT: z.string().url().optional(),
  S3_FORCE_PATH_STYLE: bool.prefault('false'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  SIGNED_URLS: bool.prefault('false'),
  MAX_BATCH: int(1).default(4),
  MAX_PIXELS: int(4096).default(1048576),
  MAX_STEPS: int(1).default(150),
  MAX_IMAGES_PER_REQUEST: int(1).default(16),
  MAX_PROMPT_CHUNKS: int(1).max(1000).default(20),
  WORKER_MEMORY_BYTES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      const bytes = parseByteSize(v);
      if (bytes === null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a byte count like 8589934592, 8G or 512MiB' });
      return bytes ?? 0;
    }),
  MAX_QUEUED: int(1).default(1000),
  MAX_QUEUED_PER_USER: int(1).default(100),
  RATE_LIMIT_SUBMITS: int(0).default(120),
  RATE_LIMIT_REQUESTS: int(0).default(1200),
  JOB_ATTEMPTS: int(1).max(20).default(3),
  STORAGE_ATTEMPTS: int(1).max(20).default(4),
  SHUTDOWN_DRAIN_MS: int(0).default(5000),
  SHUTDOWN_TIMEOUT_MS: int(0).default(30000),
  DEFAULT_MODEL: z.string().optional(),
  EXECUTION_PROVIDERS: z
    .string()
    .default('cpu')
    .transform((v, ctx) => {
      const list = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = list.filter((p) => !['cpu', 'cuda', 'tensorrt'].includes(p));
      if (bad.length) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown provider(s) ${bad.join(', ')}; use cpu, cuda, tensorrt` });
      return list as ('cpu' | 'cuda' | 'tensorrt')[];
    }),
  ORT_THREADS: int(1).optional(),
  ORT_SPINNING: bool.prefault('false'),
  ENGINE_NICE: int(0).max(19).default(DEFAULT_ENGINE_NICE),
  GRAPH_FLAVOUR: z.enum(['auto', 'portable', 'gpu']).default('auto'),
  SESSION_CACHE_BYTES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return defaultSessionCacheBytes();
      const bytes = parseByteSize(v);
      if (bytes === null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a byte count like 8589934592, 8G or 512MiB' });
      return bytes ?? 0;
    }),
  GPU_DEVICE_ID: int(0).default(0),
  TRT_FP16: bool.prefault('true'),
  TRT_ENGINE_CACHE_DIR: z.string().optional(),
  WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must look like whsec_<base64>')
    .optional(),
  WEBHOOK_ALLOW_PRIVATE: bool.prefault('false'),
  WEBHOOK_ALLOWED_HOSTS: z.string().default(''),
  BODY_LIMIT: z.string().regex(BODY_LIMIT_FORMAT).default('20mb'),
  AUTH_USERS: z.string().default(''),
  AUTH_API_KEYS: z.string().default(''),
  AUTH_DISABLED: bool.prefault('false'),
  TRUST_PROXY: z
    .string()
    .default('')
    .transform((v, ctx) => {
      if (/^\d+$/.test(v.trim())) return Number(v.trim());
      const list = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = list.filter((p) => !['loopback', 'linklocal', 'uniquelocal'].includes(p) && !ipaddr.isValid(p) && !ipaddr.isValidCIDR(p));
      if (bad.length) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not an address, CIDR or loopback/linklocal/uniquelocal: ${bad.join(', ')}` });
      return list.length ? list : false;
    }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  WORKER_HEALTH_PORT: int(0).max(65535).optional(),
  WORKER_STUCK_SECONDS: int(1).default(300),
  WORKER_MODELS: z
    .string()
    .default('')
    .transform((v) => {
      const list = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      return list.length ? list : undefined;
    }),
  MODEL_SWITCH_AFTER_MS: int(0).default(500),
});

export type FarmConfig = z.infer<typeof configSchema>;

/** The session cache's default budget: half the host's memory (the rest: activations, the runtime, the OS). */
export function defaultSessionCacheBytes(hostBytes = totalmem()): number {
  return Math.floor(hostBytes / 2);
}

/** "8589934592", "8G", "8GiB", "512m" -> bytes (binary multiples); null when it is not one. */
export function parseByteSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (!m) return null;
  const power = m[2] ? 'kmgt'.indexOf(m[2].toLowerCase()) + 1 : 0;
  const bytes = Math.floor(Number(m[1]) * 1024 ** power);
  return bytes > 0 ? bytes : null;
}

/** WORKER_MEMORY_BYTES when unset: 80% of the host's memory, or of the container's cgroup limit when that is lower. */
export function defaultWorkerMemoryBytes(): number {
  let limit = totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const v = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(v) && v > 0) limit = Math.min(limit, v);
    } catch {
      /* no such cgroup file: not in a container, or cgroup v1/v2 the other way */
    }
  }
  return Math.floor(0.8 * limit);
}

export class ConfigError extends Error {}

/**
 * The TensorRT provider reads its fp16 switch and engine cache from environment variables when a session is
 * created; the worker's entry point puts these into its environment before any session exists.
 */
export function tensorrtEnvironment(c: Pick<FarmConfig, 'TRT_FP16' | 'TRT_ENGINE_CACHE_DIR'>): Record<string, string> {
  return {
    ORT_TENSORRT_FP16_ENABLE: c.TRT_FP16 ? '1' : '0',
    ...(c.TRT_ENGINE_CACHE_DIR ? { ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1', ORT_TENSORRT_CACHE_PATH: c.TRT_ENGINE_CACHE_DIR } : {}),
  };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): FarmConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function storageConfig(c: FarmConfig) {
  return c.STORAGE === 'fs'
    ? { kind: 'fs' as const, dir: `${c.DATA_DIR}/storage` }
    : {
        kind: 's3' as const,
        bucket: c.S3_BUCKET,
        region: c.S3_REGION,
        endpoint: c.S3_ENDPOINT,
        forcePathStyle: c.S3_FORCE_PATH_STYLE,
        accessKeyId: c.S3_ACCESS_KEY_ID,
        secretAccessKey: c.S3_SECRET_ACCESS_KEY,
      };
}

/** BODY_LIMIT (`<n>kb` or `<n>mb`, binary units as express reads them) in bytes. */
export function bodyLimitBytes(limit: string): number {
  const m = BODY_LIMIT_FORMAT.exec(limit);
  if (!m) throw new Error(`BODY_LIMIT must look like 512kb or 20mb, got ${JSON.stringify(limit)}`);
  return Number(m[1]) * (m[2].toLowerCase() === 'kb' ? 1024 : 1024 * 1024);
}
