import type { GenerationParams } from '@farm/core';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'canceled']);
export type WebhookEvent = 'start' | 'progress' | 'completed';

export interface WebhookDelivery {
  event: WebhookEvent;
  attempt: number;
  status: number | null;
  ok: boolean;
  at: string;
  error?: string;
}

/** Cog-style job envelope kept in Redis; what GET /v1/jobs/:id returns. */
export interface JobEnvelope {
  id: string;
  owner: string;
  status: JobStatus;
  /** the request without its images (init image, inpainting mask) */
  input: Omit<GenerationParams, 'init_image' | 'inpaint'> & { has_init_image: boolean; inpaint?: Omit<NonNullable<GenerationParams['inpaint']>, 'mask'> & { has_mask: true } };
  output: { images: string[]; seeds: number[]; infotexts: string[] } | null;
  error: string | null;
  progress: { step: number; steps: number; eta_seconds: number | null } | null;
  queue_position: number | null;
  webhook: { url: string; events: WebhookEvent[] } | null;
  deliveries: WebhookDelivery[];
  cancel_requested: boolean;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  worker_id: string | null;
  attempts: number;
  batch_size: number | null;
}

/** What travels on the BullMQ render queue. */
export interface RenderJobData {
  id: string;
  params: GenerationParams;
}

export interface WorkerInfo {
  id: string;
  host: string;
  models: string[];
  loras: string[];
  /** upscaler models (UPSCALERS_DIR) */
  upscalers?: string[];
  loadedModel: string | null;
  busy: boolean;
  lastSeen: number;
}

export interface DeliveryJobData {
  jobId: string;
  event: WebhookEvent;
  url: string;
  payload: JobEnvelope;
}

/** What every worker is told at once: drop its loaded sessions, or load its model's sessions again. */
export type WorkerCommand = 'unload' | 'reload';
