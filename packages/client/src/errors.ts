import type { ApiErrorBody } from './types';

/** A non-2xx answer from the farm: the HTTP status, the farm's error code and the field it names, if any. */
export class FarmApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** seconds, from Retry-After (429, 503) */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'FarmApiError';
  }

  static async fromResponse(res: Response): Promise<FarmApiError> {
    const text = await res.text();
    let code = `http_${res.status}`;
    let message = text || res.statusText;
    let field: string | undefined;
    try {
      const body = JSON.parse(text) as Partial<ApiErrorBody>;
      if (body.error) ({ code, message, field } = { code: body.error.code, message: body.error.message, field: body.error.field });
      else if (typeof body.detail === 'string') message = body.detail;
    } catch {
      // not JSON: keep the text
    }
    const retry = Number(res.headers.get('retry-after'));
    return new FarmApiError(res.status, code, message, field, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
}

/** wait() gave up before the job ended. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`job ${jobId} did not end within ${timeoutMs} ms`);
    this.name = 'WaitTimeoutError';
  }
}
