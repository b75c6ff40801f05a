// Errors under /sdapi and /controlnet in A1111's shapes: validation as FastAPI's 422 `{detail: [{loc, msg, type}]}`,
// A1111's own HTTPExceptions as `{error, detail, body, errors}`; everything else goes on to the app's handler.
import type { ErrorRequestHandler } from 'express';
import { A1111HttpError, A1111ValidationError, FarmError, ValidationError } from '@farm/core';

export function a1111ErrorHandler(): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof A1111ValidationError) return res.status(422).json({ detail: err.detail });
    if (err instanceof A1111HttpError) {
      return res.status(err.status).json({ error: 'HTTPException', detail: err.detail, body: '', errors: `${err.status}: ${err.detail}`, ...err.extra });
    }
    if (err instanceof ValidationError || (err instanceof FarmError && err.status === 422)) {
      const field = (err as ValidationError).field ?? 'body';
      return res.status(422).json({ detail: [{ loc: ['body', ...field.split('.')], msg: err.message, type: 'value_error' }] });
    }
    next(err);
  };
}
