// A job as every package sees it: its states, its envelope (kept by the queue), and the one shape in which it is shown
// to clients, whether they poll (GET), stream (SSE) or receive webhooks: `present()`.
import type { GenerationParams } from './types';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type WebhookEvent = 'start' | 'progress' | 'completed';

const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'canceled']);

/** A terminal job never changes status again (the queue's life cycle refuses every transition out of one). */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.has(status);
}

export interface WebhookDelivery {
  event: WebhookEvent;
  attempt: number;
  status: number | null;
  ok: boolean;
  at: string;
  error?: string;
}

/** Cog-style job envelope kept in Redis. `output.images` holds storage keys; `present()` turns them into URLs. */
export interface JobEnvelope {
  id: string;
  owner: string;
  status: JobStatus;
  /** the request without its images (init image, inpainting mask) */
  input: Omit<GenerationParams, 'init_image' | 'inpaint'> & {
    has_init_image: boolean;
    inpaint?: Omit<NonNullable<GenerationParams['inpaint']>, 'mask'> & { has_mask: true };
  };
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
  /** the X-Request-Id of the submission (access log), carried into the worker's log lines; absent on older jobs */
  request_id?: string;
}

/** The job as clients see it (GET /v1/jobs/:id, each SSE `status` event, each webhook's `data`). */
export type PresentedJob = Omit<JobEnvelope, 'output'> & {
  output: { images: string[]; seeds: number[]; infotexts: string[] } | null;
  metrics: { queue_seconds: number | null; run_seconds: number | null; total_seconds: number | null };
  links: { self: string; events: string; cancel: string };
};

/**
 * The one client-facing shape of a job: image storage keys (`images/<id>/<n>.png`) become URLs under `/v1/`, joined to
 * `baseUrl` when one is given (webhook receivers are elsewhere, so they get absolute URLs when the farm knows its own).
 */
export function present(e: JobEnvelope, baseUrl = ''): PresentedJob {
  const base = baseUrl.replace(/\/+$/, '');
  const seconds = (from: string | null, to: string | null) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null);
  return {
    ...e,
    output: e.output ? { ...e.output, images: e.output.images.map((key) => `${base}/v1/${key}`) } : null,
    metrics: {
      queue_seconds: seconds(e.created_at, e.started_at),
      run_seconds: seconds(e.started_at, e.completed_at),
      total_seconds: seconds(e.created_at, e.completed_at),
    },
    links: { self: `${base}/v1/jobs/${e.id}`, events: `${base}/v1/jobs/${e.id}/events`, cancel: `${base}/v1/jobs/${e.id}` },
  };
}
