// Login on every route but the health checks: HTTP Basic (scrypt-hashed passwords) or `Authorization: Bearer <key>`
// (SHA-256-hashed keys). Failed logins are rate-limited per client address and user.
import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { hashApiKey, verifyPassword } from './passwords';

export interface AuthConfig {
  /** `user:scrypt$...` entries, comma-separated */
  users: string;
  /** `sha256hex:user` entries, comma-separated */
  apiKeys: string;
  disabled: boolean;
  maxFailures?: number;
  windowMs?: number;
}

export interface AuthUser { id: string }
declare module 'express-serve-static-core' {
  interface Request { user?: AuthUser }
}

const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);

export function parseUsers(spec: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    if (colon <= 0 || !entry.slice(colon + 1).startsWith('scrypt$')) throw new Error(`AUTH_USERS entry "${entry.slice(0, 20)}..." must be user:scrypt$... (use npm run hash-password)`);
    users.set(entry.slice(0, colon), entry.slice(colon + 1));
  }
  return users;
}

export function parseApiKeys(spec: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [hash, user] = entry.split(':');
    if (!/^[0-9a-f]{64}$/.test(hash ?? '') || !user) throw new Error('AUTH_API_KEYS entries must be <sha256 hex of the key>:<user>');
    keys.set(hash, user);
  }
  return keys;
}

export function createAuth(cfg: AuthConfig): RequestHandler {
  const users = parseUsers(cfg.users);
  const keys = parseApiKeys(cfg.apiKeys);
  const failures = new Map<string, { count: number; since: number }>();
  // scrypt is slow on purpose; a verified Authorization header is remembered (by its hash) for a while
  const verified = new Map<string, { user: string; until: number }>();
  const maxFailures = cfg.maxFailures ?? 5;
  const windowMs = cfg.windowMs ?? 60_000;

  const deny = (res: Response, message: string) => {
    res.setHeader('WWW-Authenticate', 'Basic realm="sd-render-farm", charset="UTF-8"');
    res.status(401).json({ error: { code: 'unauthorized', message }, detail: message });
  };

  return (req: Request, res: Response, next: NextFunction) => {
    if (PUBLIC_PATHS.has(req.path)) return next();
    if (cfg.disabled) { req.user = { id: 'anonymous' }; return next(); }
    const header = req.headers.authorization ?? '';
    const [scheme, value = ''] = header.split(' ');
    if (/^bearer$/i.test(scheme)) {
      const user = keys.get(hashApiKey(value.trim()));
      if (user) { req.user = { id: user }; return next(); }
      return deny(res, 'invalid API key');
    }
    if (!/^basic$/i.test(scheme)) return deny(res, 'login required (HTTP Basic or Bearer API key)');
    const headerHash = hashApiKey(header);
    const known = verified.get(headerHash);
    if (known && known.until > Date.now()) { req.user = { id: known.user }; return next(); }
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = colon >= 0 ? decoded.slice(0, colon) : decoded;
    const password = colon >= 0 ? decoded.slice(colon + 1) : '';
    const limiterKey = `${req.ip}|${name}`;
    const record = failures.get(limiterKey);
    if (record && Date.now() - record.since < windowMs && record.count >= maxFailures) {
      const retryAfter = Math.ceil((record.since + windowMs - Date.now()) / 1000);
      res.setHeader('Retry-After', String(retryAfter));
      return res.status(429).json({ error: { code: 'rate_limited', message: `too many failed logins; retry in ${retryAfter} s` } });
    }
    const stored = users.get(name);
    // compare against a dummy hash for unknown users so timing does not reveal which names exist
    const ok = stored ? verifyPassword(password, stored) : (verifyPassword(password, DUMMY), false);
    if (ok) {
      failures.delete(limiterKey);
      if (verified.size > 10_000) verified.clear();
      verified.set(headerHash, { user: name, until: Date.now() + 5 * 60_000 });
      req.user = { id: name };
      return next();
    }
    const fresh = !record || Date.now() - record.since >= windowMs;
    failures.set(limiterKey, { count: fresh ? 1 : record!.count + 1, since: fresh ? Date.now() : record!.since });
    return deny(res, 'wrong user name or password');
  };
}

const DUMMY = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
export const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
