// Login on every route but the health checks: HTTP Basic (scrypt-hashed passwords) or `Authorization: Bearer <key>`
// (SHA-256-hashed keys). Failed logins are throttled per client address (the socket's, or the one a TRUST_PROXY
// proxy reports): after `maxFailures` in the window, a wrong password answers 429 — but a right one still logs in,
// so nobody can lock a user out by guessing at their name. A throttled address gets one password check at a time.
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

export interface AuthUser {
  id: string;
}
declare module 'express-serve-static-core' {
  interface Request {
    user?: AuthUser;
  }
}

const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);

export function parseUsers(spec: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const [n, entry] of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .entries()) {
    const colon = entry.indexOf(':');
    // never echo the entry: a pasted plain password may be in it
    if (colon <= 0 || !entry.slice(colon + 1).startsWith('scrypt$'))
      throw new Error(`AUTH_USERS entry ${n + 1} must be user:scrypt$... (use npm run hash-password)`);
    users.set(entry.slice(0, colon), entry.slice(colon + 1));
  }
  return users;
}

export function parseApiKeys(spec: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [n, entry] of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .entries()) {
    const [hash, user] = entry.split(':');
    if (!/^[0-9a-f]{64}$/.test(hash ?? '') || !user) throw new Error(`AUTH_API_KEYS entry ${n + 1} must be <sha256 hex of the key>:<user>`);
    keys.set(hash, user);
  }
  return keys;
}

/** `Basic <token>` / `Bearer <token>`: one scheme, one space, one token, nothing else. */
export function parseAuthorization(header: string): { scheme: 'basic' | 'bearer'; token: string } | null {
  const m = /^(basic|bearer) (\S+)$/i.exec(header);
  return m ? { scheme: m[1].toLowerCase() as 'basic' | 'bearer', token: m[2] } : null;
}

export function createAuth(cfg: AuthConfig): RequestHandler {
  const users = parseUsers(cfg.users);
  const keys = parseApiKeys(cfg.apiKeys);
  const failures = new Map<string, { count: number; since: number; checking: boolean }>();
  // scrypt is slow on purpose; a verified Authorization header is remembered (by its hash) for a while
  const verified = new Map<string, { user: string; until: number }>();
  const maxFailures = cfg.maxFailures ?? 5;
  const windowMs = cfg.windowMs ?? 60_000;

  const deny = (res: Response, message: string) => {
    res.setHeader('WWW-Authenticate', 'Basic realm="sd-render-farm", charset="UTF-8"');
    res.status(401).json({ error: { code: 'unauthorized', message }, detail: message });
  };

  const check = async (req: Request, res: Response, next: NextFunction, header: string, token: string) => {
    const headerHash = hashApiKey(header);
    const known = verified.get(headerHash);
    if (known && known.until > Date.now()) {
      req.user = { id: known.user };
      return next();
    }
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return deny(res, 'malformed Basic credentials (expected base64 of user:password)');
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const address = req.ip ?? req.socket.remoteAddress ?? '?';
    let record = failures.get(address);
    if (record && Date.now() - record.since >= windowMs) {
      failures.delete(address);
      record = undefined;
    }
    const throttled = record !== undefined && record.count >= maxFailures;
    const retryAfter = record ? Math.max(1, Math.ceil((record.since + windowMs - Date.now()) / 1000)) : 0;
    const tooMany = () => {
      res.setHeader('Retry-After', String(retryAfter));
      const message = `too many failed logins from this address; retry in ${retryAfter} s`;
      res.status(429).json({ error: { code: 'rate_limited', message }, detail: message });
    };
    if (throttled && record!.checking) return tooMany();
    if (throttled) record!.checking = true;
    let ok: boolean;
    try {
      const stored = users.get(name);
      // compare against a dummy hash for unknown users so timing does not reveal which names exist
      ok = stored ? await verifyPassword(password, stored) : (await verifyPassword(password, DUMMY), false);
    } finally {
      if (record) record.checking = false;
    }
    if (ok) {
      if (verified.size > 10_000) verified.clear();
      verified.set(headerHash, { user: name, until: Date.now() + 5 * 60_000 });
      req.user = { id: name };
      return next();
    }
    const now = failures.get(address);
    failures.set(address, { count: (now?.count ?? 0) + 1, since: now?.since ?? Date.now(), checking: false });
    if (failures.size > 100_000) failures.clear();
    return throttled ? tooMany() : deny(res, 'wrong user name or password');
  };

  return (req: Request, res: Response, next: NextFunction) => {
    if (PUBLIC_PATHS.has(req.path)) return next();
    if (cfg.disabled) {
      req.user = { id: 'anonymous' };
      return next();
    }
    const header = req.headers.authorization ?? '';
    const parsed = parseAuthorization(header);
    if (!parsed)
      return deny(
        res,
        header ? 'malformed Authorization header (expected "Basic <base64>" or "Bearer <key>")' : 'login required (HTTP Basic or Bearer API key)',
      );
    if (parsed.scheme === 'bearer') {
      const user = keys.get(hashApiKey(parsed.token));
      if (user) {
        req.user = { id: user };
        return next();
      }
      return deny(res, 'invalid API key');
    }
    check(req, res, next, header, parsed.token).catch(next);
  };
}

const DUMMY = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
export const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
