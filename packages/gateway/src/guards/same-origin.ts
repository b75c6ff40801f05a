// Cross-site request forgery: a browser sends the user's cached Basic credentials with any form a foreign page
// submits. State-changing requests (POST, PUT, PATCH, DELETE) are refused when the browser says they come from
// another site (`Origin` not this gateway, or `Sec-Fetch-Site: cross-site`), and when their body is of a type an
// HTML form can send (urlencoded, multipart, text/plain): every API body is JSON, which a foreign page can only
// send after a CORS preflight this gateway never grants.
import type { Request, RequestHandler } from 'express';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origins this request may come from: its own host, as the client addressed it (X-Forwarded-* only from TRUST_PROXY). */
function ownOrigins(req: Request): string[] {
  const hosts = new Set([
    req.headers.host,
    req.get('x-forwarded-host') && req.app.get('trust proxy fn')(req.socket.remoteAddress, 0) ? req.get('x-forwarded-host') : undefined,
  ]);
  return [...hosts].filter((h): h is string => !!h).flatMap((h) => [`http://${h.toLowerCase()}`, `https://${h.toLowerCase()}`]);
}

export function isJsonType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type);
}

export function sameOriginGuard(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const refuse = (status: number, code: string, message: string) => res.status(status).json({ error: { code, message }, detail: message });
    const origin = req.get('origin');
    if (origin !== undefined && origin !== 'null' && !ownOrigins(req).includes(origin.toLowerCase())) {
      return refuse(403, 'cross_origin', `cross-site ${req.method} refused: Origin ${origin} is not this server`);
    }
    if (origin === 'null' || req.get('sec-fetch-site') === 'cross-site') return refuse(403, 'cross_origin', `cross-site ${req.method} refused`);
    const hasBody = req.get('content-type') !== undefined || (req.get('content-length') ?? '0') !== '0' || req.get('transfer-encoding') !== undefined;
    if (hasBody && !isJsonType(req.get('content-type'))) {
      return refuse(415, 'unsupported_media_type', `request bodies must be JSON (content-type: application/json), got ${req.get('content-type') ?? 'none'}`);
    }
    next();
  };
}
