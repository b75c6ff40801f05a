import type { ModelMemoryProfile, PresentedJob, ResolvedJob, WebhookEvent } from '@farm/core';

export type { JobEnvelope, JobStatus, WebhookDelivery, WebhookEvent } from '@farm/core';

/** What travels on the BullMQ render queue: the job resolved once at submission, with its id and owner. */
export interface RenderJobData extends ResolvedJob {
  id: string;
  owner: string;
}

export interface WorkerInfo {
  id: string;
  host: string;
  models: string[];
  /** per model, the multiple its width and height must be (absent: 8) */
  sizeMultiples?: Record<string, number>;
  /** per model, the hidden states its text encoder exports for clip skip (0: none) */
  hiddenStates?: Record<string, number>;
  /** the memory this worker may use (WORKER_MEMORY_BYTES) and, per model, what its renders' memory depends on */
  memoryBudget?: number;
  memory?: Record<string, ModelMemoryProfile>;
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
  payload: PresentedJob;
}

/** What every worker is told at once: drop its loaded sessions, or load its model's sessions again. */
export type WorkerCommand = 'unload' | 'reload';
