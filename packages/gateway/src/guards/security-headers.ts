// Headers on every answer: no MIME sniffing, no framing (clickjacking), no referrer; pages get a Content Security
// Policy that allows only their own scripts and styles (plus the exact inline blocks a page declares, by hash);
// API answers are never cached (`Cache-Control: no-store`) unless a route sets its own policy (images).
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';

export const inlineHash = (code: string) => `'sha256-${createHash('sha256').update(code).digest('base64')}'`;

/** CSP for an HTML page; `inline` are the inline <script>/<style> bodies the page carries. */
export function contentSecurityPolicy(inline: { scripts?: string[]; styles?: string[] } = {}): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${(inline.scripts ?? []).map(inlineHash).join(' ')}`.trim(),
    `style-src 'self' ${(inline.styles ?? []).map(inlineHash).join(' ')}`.trim(),
    // result images may redirect to a signed URL of the bucket
    'img-src * data: blob:',
    'connect-src *',
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(): RequestHandler {
  const pageCsp = contentSecurityPolicy();
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', pageCsp);
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
}
