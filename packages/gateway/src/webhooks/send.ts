// Delivers one webhook: refuses loopback/private/link-local/metadata targets unless allowed, signs, POSTs.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DeliveryJobData } from '@farm/queue';
import { signWebhook } from './sign';

export function parseAllowedHosts(spec: string): ReadonlySet<string> {
  return new Set(spec.split(',').map((h) => h.trim().replace(/^\[|\]$/g, '').toLowerCase()).filter(Boolean));
}

const PRIVATE_V4 = [/^127\./, /^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^169\.254\./, /^0\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./];

export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) return PRIVATE_V4.some((r) => r.test(ip));
  const v6 = ip.toLowerCase();
  if (v6.startsWith('::ffff:')) return isPrivateAddress(v6.slice(7));
  return v6 === '::1' || v6 === '::' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80');
}

/** Throws unless every address of the URL's host is public, or the host is on the allowlist (WEBHOOK_ALLOWED_HOSTS). */
export async function assertPublicUrl(url: string, allowedHosts: ReadonlySet<string> = new Set()): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (allowedHosts.has(host)) return;
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  if (addresses.some(isPrivateAddress)) throw new Error(`webhook host ${host} resolves to a private or loopback address`);
}

export function createWebhookSender(opts: { secret: string; allowPrivate: boolean; allowedHosts?: ReadonlySet<string>; timeoutMs?: number }) {
  return async (d: DeliveryJobData & { deliveryId: string }): Promise<{ status: number }> => {
    // checked again at delivery time: DNS may have changed since the job was accepted
    if (!opts.allowPrivate) await assertPublicUrl(d.url, opts.allowedHosts);
    const body = JSON.stringify({ type: `job.${d.event === 'completed' ? d.payload.status : d.event}`, timestamp: new Date().toISOString(), data: d.payload });
    const headers = signWebhook(opts.secret, d.deliveryId, Math.floor(Date.now() / 1000), body);
    const res = await fetch(d.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  };
}
