// Every Redis key and pub/sub channel name of the farm, built in this one place (as BullMQ's QueueKeys does for its
// own). BullMQ's keys are never spelled out here: `bullmqKeys` takes them from the Queue object, which knows them.
export class FarmKeys {
  constructor(readonly prefix: string) {}

  /** a job's envelope: a hash whose fields are the envelope's fields, each as JSON text */
  job(id: string): string {
    return `${this.jobPrefix}${id}`;
  }
  /** what job(id) puts before the id (the worker's survey script reads the envelopes of the jobs at a queue's head) */
  get jobPrefix(): string {
    return `${this.prefix}:job:`;
  }
  /** pub/sub channel that carries every new envelope of one job (SSE in any gateway listens there) */
  jobChannel(id: string): string {
    return `${this.prefix}:events:${id}`;
  }
  /**
   * pattern matching every job's channel (jobChannel), with the prefix's own glob characters escaped: a gateway
   * subscribes to it once instead of once per job, so a submit-and-stream call costs no SUBSCRIBE round trip
   */
  get jobChannelPattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}:events:*`;
  }
  /** sorted set of an owner's job ids by creation time (listing) */
  owner(owner: string): string {
    return `${this.prefix}:owner:${owner}`;
  }
  /** set of an owner's jobs that are not terminal (the per-user cap) */
  unfinished(owner: string): string {
    return `${this.prefix}:unfinished:${owner}`;
  }
  /** an owner's idempotency key -> the job id it admitted */
  idempotency(owner: string, key: string): string {
    return `${this.prefix}:idem:${owner}:${key}`;
  }
  /** set while a running job is asked to stop */
  cancel(id: string): string {
    return `${this.prefix}:cancel:${id}`;
  }
  /** set while A1111's interrupt of a running job is in force (/progress reports state.interrupted) */
  interrupt(id: string): string {
    return `${this.prefix}:interrupt:${id}`;
  }
  /** a running job's latest live preview (JSON {step, image}) */
  preview(id: string): string {
    return `${this.prefix}:preview:${id}`;
  }
  /** pub/sub channel carrying each live preview of one job (SSE in any gateway listens there) */
  previewChannel(id: string): string {
    return `${this.prefix}:previews:${id}`;
  }
  /** pub/sub channel on which workers hear cancel requests (message: the job id, or `interrupt:<id>` / `skip:<id>` for A1111's) */
  get cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }
  /** pub/sub channel of commands to every worker (unload / reload, from A1111's unload- and reload-checkpoint) */
  get workerCommandChannel(): string {
    return `${this.prefix}:worker-commands`;
  }
  /** hash worker id -> heartbeat JSON */
  get workers(): string {
    return `${this.prefix}:workers`;
  }
  /** GCRA state of one rate budget of one user */
  rateLimit(budget: string, user: string): string {
    return `${this.prefix}:rl:${budget}:${user}`;
  }
  /** A1111 surface: the options a user set with POST /sdapi/v1/options (hash of JSON values) */
  a1111Options(user: string): string {
    return `${this.prefix}:a1111-options:${user}`;
  }
  /** A1111 surface: a user's A1111 calls still waiting for images (list; /progress, /interrupt and /skip act on them) */
  a1111Calls(user: string): string {
    return `${this.prefix}:a1111-calls:${user}`;
  }
  /**
   * Name of the BullMQ render queue of one model (BullMQ then keys it `<prefix>:render.<model>:wait` and so on; that
   * wait list is the per-model queue depth KEDA's redis trigger reads). Queue names may not hold `:`, so the model name
   * is URI-encoded (folder names stay as they are).
   */
  renderQueue(model: string): string {
    return `render.${encodeURIComponent(model)}`;
  }
  /** set of the models that have (or had) a render queue: what counts, metrics and the queue cap sum over */
  get renderModels(): string {
    return `${this.prefix}:render-models`;
  }
  /** sorted set of the workers holding a model warm (its sessions loaded), scored by their last heartbeat (ms) */
  warm(model: string): string {
    return `${this.prefix}:warm:${model}`;
  }
}

/** The BullMQ keys the farm's scripts read (queue depth), as the Queue object names them. */
export interface QueueDepthKeys {
  wait: string;
  prioritized: string;
  delayed: string;
}

export function bullmqKeys(queue: { keys: Record<string, string> }): QueueDepthKeys {
  return { wait: queue.keys.wait, prioritized: queue.keys.prioritized, delayed: queue.keys.delayed };
}
