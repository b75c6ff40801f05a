// Small error classes, each with a stable code and the HTTP status the gateway answers with.

export class FarmError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: unknown;
  constructor(code: string, status: number, message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
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
  constructor(name: string, available: string[]) {
    super('unknown_model', 422, `unknown model "${name}"; available: ${available.join(', ') || '(none)'}`, { available });
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
