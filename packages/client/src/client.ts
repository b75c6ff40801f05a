// FarmClient: the native job API (/v1) with types. Uses the platform's fetch (Node >= 18, browsers, Deno, Bun).
import { FarmApiError, WaitTimeoutError } from './errors';
import { readSse } from './sse';
import { isTerminal, type Job, type JobList, type JobRequest } from './types';

export interface FarmClientOptions {
  /** e.g. http://127.0.0.1:7860 */
  baseUrl: string;
  /** Bearer key (AUTH_API_KEYS) */
  apiKey?: string;
  /** HTTP Basic (AUTH_USERS) */
  username?: string;
  password?: string;
  fetch?: typeof fetch;
}

export interface WaitOptions {
  /** every state change: queued -> running (with progress) -> a terminal state */
  onUpdate?(job: Job): void;
  /** running jobs' step progress */
  onProgress?(progress: { step: number; steps: number; eta_seconds: number | null }, job: Job): void;
  /** give up after this long (WaitTimeoutError); default: wait for ever */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** 'sse' (default) streams GET /v1/jobs/:id/events and falls back to polling if the stream cannot be had */
  transport?: 'sse' | 'poll';
  pollIntervalMs?: number;
}

export class FarmClient {
  private readonly base: string;
  private readonly authorization?: string;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: FarmClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    if (opts.apiKey) this.authorization = `Bearer ${opts.apiKey}`;
    else if (opts.username !== undefined) this.authorization = `Basic ${btoa(`${opts.username}:${opts.password ?? ''}`)}`;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** POST /v1/jobs. The job is queued when this returns; `idempotencyKey` makes retries of one submission safe. */
  submit(request: JobRequest, opts: { idempotencyKey?: string } = {}): Promise<Job> {
    const body = opts.idempotencyKey ? { ...request, idempotency_key: opts.idempotencyKey } : request;
    return this.json<Job>('POST', '/v1/jobs', body);
  }

  get(id: string): Promise<Job> {
    return this.json<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  list(opts: { limit?: number; offset?: number } = {}): Promise<JobList> {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.offset !== undefined) q.set('offset', String(opts.offset));
    return this.json<JobList>('GET', `/v1/jobs${q.size ? `?${q}` : ''}`);
  }

  /** A queued job ends at once; a running one (or one a worker has just taken) stops between steps: the returned
   *  job then says `cancel_requested: true` and `wait()` sees it end `canceled`. */
  cancel(id: string): Promise<Job> {
    return this.json<Job>('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /** Resolves with the job once it has ended (succeeded, failed or canceled); it does not throw for a failed job. */
  async wait(id: string, opts: WaitOptions = {}): Promise<Job> {
    const signals = [opts.signal, opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined].filter((s): s is AbortSignal => !!s);
    const signal = signals.length ? AbortSignal.any(signals) : undefined;
    const report = makeReporter(opts);
    try {
      if ((opts.transport ?? 'sse') === 'sse') {
        const ended = await this.streamUntilEnd(id, report, signal);
        if (ended) return ended;
      }
      return await this.pollUntilEnd(id, report, opts.pollIntervalMs ?? 500, signal);
    } catch (e) {
      if (opts.timeoutMs !== undefined && signal?.aborted && !opts.signal?.aborted) throw new WaitTimeoutError(id, opts.timeoutMs);
      throw e;
    }
  }

  /** submit, then wait */
  async run(request: JobRequest, opts: WaitOptions & { idempotencyKey?: string } = {}): Promise<Job> {
    const job = await this.submit(request, opts);
    return this.wait(job.id, opts);
  }

  /** The bytes of image `n` of a job (or of an image URL from `job.output.images`). Follows signed-URL redirects. */
  async download(jobOrUrl: Job | string, n = 0): Promise<Uint8Array> {
    const url = typeof jobOrUrl === 'string' ? jobOrUrl : jobOrUrl.output?.images[n];
    if (!url) throw new Error(`job ${(jobOrUrl as Job).id} has no image ${n}`);
    const res = await this.request('GET', url);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** null when the stream could not be had or ended early (the caller polls then) */
  private async streamUntilEnd(id: string, report: (job: Job) => void, signal?: AbortSignal): Promise<Job | null> {
    let res: Response;
    try {
      res = await this.request('GET', `/v1/jobs/${encodeURIComponent(id)}/events`, undefined, { accept: 'text/event-stream' }, signal);
    } catch (e) {
      if (e instanceof FarmApiError && e.status === 404) throw e;
      if (signal?.aborted) throw e;
      return null;
    }
    if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return null;
    try {
      for await (const ev of readSse(res.body)) {
        if (ev.event !== 'status') continue;
        const job = JSON.parse(ev.data) as Job;
        report(job);
        if (isTerminal(job.status)) return job;
      }
    } catch (e) {
      if (signal?.aborted) throw e;
    }
    return null; // the stream ended without a terminal state (a gateway restarting): poll from here
  }

  private async pollUntilEnd(id: string, report: (job: Job) => void, intervalMs: number, signal?: AbortSignal): Promise<Job> {
    for (;;) {
      const job = await this.json<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`, undefined, signal);
      report(job);
      if (isTerminal(job.status)) return job;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, intervalMs);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    }
  }

  private async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.request(method, path, body, {}, signal);
    return (await res.json()) as T;
  }

  private async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    const url = /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
    const sameOrigin = url.startsWith(`${this.base}/`);
    const res = await this.fetchImpl(url, {
      method,
      signal,
      headers: {
        ...headers,
        // never send the farm's credentials to another host (a signed S3 URL)
        ...(this.authorization && sameOrigin ? { authorization: this.authorization } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw await FarmApiError.fromResponse(res);
    return res;
  }
}

function makeReporter(opts: WaitOptions): (job: Job) => void {
  let last = '';
  let lastStep = -1;
  return (job) => {
    const key = `${job.status}|${job.progress?.step ?? ''}|${job.queue_position ?? ''}`;
    if (key === last) return;
    last = key;
    opts.onUpdate?.(job);
    if (job.status === 'running' && job.progress && job.progress.step !== lastStep) {
      lastStep = job.progress.step;
      opts.onProgress?.({ step: job.progress.step, steps: job.progress.steps, eta_seconds: job.progress.eta_seconds }, job);
    }
  };
}
