// The wire types of the native job API (/v1). test/client.test.ts checks them against the farm's /openapi.json.

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type WebhookEventName = 'start' | 'progress' | 'completed';

export interface LoraRef {
  name: string;
  weight?: number;
}

export interface ControlNetUnit {
  image: string;
  module?: string;
  model?: string;
  weight?: number;
  guidance_start?: number;
  guidance_end?: number;
  threshold_a?: number;
  threshold_b?: number;
  [field: string]: unknown;
}

/** Body of POST /v1/jobs. Only `prompt` is required; the farm fills in A1111's defaults. Fields the farm adds later
 *  pass through untouched (the index signature), and the farm answers 422 for any it does not know. */
export interface JobRequest {
  prompt: string;
  negative_prompt?: string;
  kind?: string;
  model?: string;
  sampler?: string;
  scheduler?: string;
  /** 'diffusers' (default: the model's timestep_spacing) or 'a1111' (k-diffusion's sigmas, A1111's timesteps) */
  discretization?: 'diffusers' | 'a1111';
  steps?: number;
  cfg_scale?: number;
  width?: number;
  height?: number;
  seed?: number;
  batch_size?: number;
  n_iter?: number;
  /** base64 or a data: URL; makes the job img2img */
  init_image?: string;
  denoising_strength?: number;
  resize_mode?: number;
  loras?: LoraRef[];
  controlnet?: ControlNetUnit[];
  webhook?: string | { url: string; events?: WebhookEventName[] };
  priority?: number;
  idempotency_key?: string;
  [field: string]: unknown;
}

export interface JobProgress {
  step: number;
  steps: number;
  eta_seconds: number | null;
  [field: string]: unknown;
}

export interface JobOutput {
  /** image URLs, relative to the farm (`/v1/images/<id>/<n>.png`) */
  images: string[];
  seeds: number[];
  infotexts: string[];
}

export interface WebhookDelivery {
  event: WebhookEventName;
  attempt: number;
  status: number | null;
  ok: boolean;
  at: string;
  error?: string;
}

/** A job as GET /v1/jobs/:id, the SSE stream and webhooks present it. */
export interface Job {
  id: string;
  owner: string;
  status: JobStatus;
  input: Record<string, unknown>;
  output: JobOutput | null;
  error: string | null;
  progress: JobProgress | null;
  queue_position: number | null;
  webhook: { url: string; events: WebhookEventName[] } | null;
  deliveries: WebhookDelivery[];
  /** a cancel was asked for while the job ran; it stops between steps */
  cancel_requested: boolean;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  worker_id: string | null;
  attempts: number;
  /** how many jobs shared the UNet batch this one ran in */
  batch_size: number | null;
  /** X-Request-Id of the submission (the caller's, or one the gateway made); absent on jobs from older farms */
  request_id?: string;
  /** queue, run and total seconds (null until known) */
  metrics: { queue_seconds: number | null; run_seconds: number | null; total_seconds: number | null };
  links: { self: string; events: string; cancel: string };
}

export interface JobList {
  jobs: Job[];
  total: number;
  limit: number;
  offset: number;
}

/** The error body every non-2xx answer of /v1 carries. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string };
  detail?: unknown;
}

export type WebhookType = 'job.start' | 'job.progress' | 'job.succeeded' | 'job.failed' | 'job.canceled';
export interface WebhookPayload {
  type: WebhookType;
  data: Job;
}

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];
export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);
