// The farm's one error taxonomy. Every error belongs to one kind, and the kind alone decides what happens to a job:
//   bad_input          the request can never run (never retried; 4xx at the gateway)
//   not_runnable_here  this worker cannot run it, another may (retried, so another worker can take it)
//   transient          a fault that may pass: storage, network, Redis (retried with backoff)
//   bug                anything else (failed at once, logged at error with its stack)
// Small error classes, each with a stable code and the HTTP status the gateway answers with.

export type ErrorKind = 'bad_input' | 'not_runnable_here' | 'transient' | 'bug';

export class FarmError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: unknown;
  readonly kind: ErrorKind;
  constructor(code: string, status: number, message: string, details?: unknown, kind?: ErrorKind) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
    this.kind = kind ?? (status < 500 ? 'bad_input' : status === 503 ? 'transient' : 'bug');
  }
}

/** Deterministic bad input found past the gateway (a LoRA file in a format the farm cannot read, ...). */
export class BadInputError extends FarmError {
  constructor(message: string, code = 'bad_input') {
    super(code, 422, message, undefined, 'bad_input');
  }
}

/** This worker cannot run the job (its copy of a model does not load, a provider is missing); another worker may. */
export class NotRunnableHereError extends FarmError {
  constructor(message: string, code = 'not_runnable_here') {
    super(code, 503, message, undefined, 'not_runnable_here');
  }
}

/** A fault that may pass by itself: retried with backoff. */
export class TransientError extends FarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('transient', 503, message, undefined, 'transient');
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** Bad input: never retried, answered 4xx. `field` names the offending request field where one is known. */
export class ValidationError extends FarmError {
  readonly field?: string;
  constructor(message: string, field?: string, details?: unknown) {
    super('invalid_request', 422, message, details);
    this.field = field;
  }
}

export class NotFoundError extends FarmError {
  constructor(message: string) {
    super('not_found', 404, message);
  }
}

export class UnknownModelError extends FarmError {
  /** `refusal`: why a file of that name in MODELS_DIR is not a model (a pickle) */
  constructor(name: string, available: string[], refusal?: string) {
    super('unknown_model', 422, `${refusal ? `${refusal}; ` : ''}unknown model "${name}"; available: ${available.join(', ') || '(none)'}`, { available });
  }
}

export class UnknownSamplerError extends FarmError {
  constructor(name: string, available: string[]) {
    super('unknown_sampler', 422, `unknown sampler "${name}"; available: ${available.join(', ')}`, { available });
  }
}

export class UnknownLoraError extends FarmError {
  constructor(name: string, available: string[]) {
    super('unknown_lora', 422, `unknown LoRA "${name}"; available: ${available.join(', ') || '(none)'}`, { available });
  }
}

export class CanceledError extends FarmError {
  constructor(message = 'job was canceled') {
    super('canceled', 409, message);
  }
}

export class QueueFullError extends FarmError {
  constructor(message: string) {
    super('queue_full', 503, message);
  }
}

export class UnavailableError extends FarmError {
  constructor(message: string) {
    super('unavailable', 503, message);
  }
}

export class RateLimitedError extends FarmError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, code = 'rate_limited') {
    super(code, 429, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class UnauthorizedError extends FarmError {
  constructor(message = 'authentication required') {
    super('unauthorized', 401, message);
  }
}

export function isFarmError(e: unknown): e is FarmError {
  return e instanceof FarmError;
}

/** Node's and the network's error codes for faults that may pass by themselves. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EBUSY',
  'EMFILE',
  'ENFILE',
  'ENOSPC',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The kind of any thrown value: a FarmError says its own; an error carrying a network/system fault code (Node's
 * `code`, AWS SDK's `$retryable` / 5xx `$metadata`) is transient; everything else is a bug.
 */
export function errorKind(e: unknown): ErrorKind {
  if (e instanceof FarmError) return e.kind;
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; name?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; cause?: unknown };
    if (typeof o.code === 'string' && TRANSIENT_CODES.has(o.code)) return 'transient';
    if (o.name === 'TimeoutError' || o.$retryable) return 'transient';
    if (o.$metadata && (o.$metadata.httpStatusCode === undefined || o.$metadata.httpStatusCode >= 500 || o.$metadata.httpStatusCode === 429))
      return 'transient';
    if (o.cause && o.cause !== e) {
      const inner = errorKind(o.cause);
      if (inner === 'transient') return inner;
    }
  }
  return 'bug';
}

/** Whether a job that failed with this kind of error should be tried again (while attempts remain). */
export function isRetryable(kind: ErrorKind): boolean {
  return kind === 'transient' || kind === 'not_runnable_here';
}
