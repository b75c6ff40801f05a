// Delivers one webhook: refuses non-public targets unless allowed, signs, POSTs. The address that is checked is the
// address that is connected to: host names resolve once, inside the connection's own lookup (no second DNS query
// a rebinding server could answer differently). Connection failures are reported without their details (which
// would let a caller map ports), as "no HTTP answer".
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { DeliveryJobData } from '@farm/queue';
import { signWebhook } from './sign';
import { RefusedTargetError, isPublicAddress, urlHost } from './address-policy';

export { isPrivateAddress, isPublicAddress, parseAllowedHosts } from './address-policy';

export interface TargetPolicy {
  /** WEBHOOK_ALLOW_PRIVATE: every address is allowed */
  allowPrivate?: boolean;
  /** WEBHOOK_ALLOWED_HOSTS */
  allowedHosts?: ReadonlySet<string>;
}

const skipsCheck = (host: string, policy: TargetPolicy) => policy.allowPrivate === true || (policy.allowedHosts?.has(host) ?? false);

/** At submission: throws RefusedTargetError unless every address of the URL's host is public or the host is allowed. */
export async function assertPublicUrl(url: string, allowedHosts: ReadonlySet<string> = new Set()): Promise<void> {
  const host = urlHost(new URL(url));
  if (skipsCheck(host, { allowedHosts })) return;
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  if (addresses.length === 0 || !addresses.every(isPublicAddress)) throw new RefusedTargetError(host);
}

/** A connection lookup that resolves the host once and refuses the connection unless every address is public. */
export function guardedLookup(host: string): LookupFunction {
  return ((hostname: string, options: { all?: boolean; family?: number }, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { all: true, verbatim: true, ...(options.family ? { family: options.family } : {}) }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      if (addresses.length === 0 || !addresses.every((a) => isPublicAddress(a.address))) return callback(new RefusedTargetError(host));
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  }) as LookupFunction;
}

export class WebhookNetworkError extends Error {
  constructor() {
    super('no HTTP answer from the webhook URL (connection failed or timed out)');
  }
}

/** POSTs to the URL, connecting only to an address the policy allows. Resolves with the HTTP status. */
export function postTo(url: string, headers: Record<string, string>, body: string, policy: TargetPolicy, timeoutMs: number): Promise<number> {
  const target = new URL(url);
  const host = urlHost(target);
  const checked = !skipsCheck(host, policy);
  if (checked && isIP(host) && !isPublicAddress(host)) return Promise.reject(new RefusedTargetError(host));
  const options: RequestOptions = {
    method: 'POST',
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    signal: AbortSignal.timeout(timeoutMs),
    ...(checked && !isIP(host) ? { lookup: guardedLookup(host) } : {}),
  };
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(target, options, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e) => reject(e instanceof RefusedTargetError ? e : new WebhookNetworkError()));
    req.end(body);
  });
}

export function createWebhookSender(opts: { secret: string; allowPrivate: boolean; allowedHosts?: ReadonlySet<string>; timeoutMs?: number }) {
  return async (d: DeliveryJobData & { deliveryId: string }): Promise<{ status: number }> => {
    const body = JSON.stringify({ type: `job.${d.event === 'completed' ? d.payload.status : d.event}`, timestamp: new Date().toISOString(), data: d.payload });
    const headers = signWebhook(opts.secret, d.deliveryId, Math.floor(Date.now() / 1000), body);
    // checked again at delivery time, on the connection itself: DNS may have changed since the job was accepted
    const status = await postTo(
      d.url,
      { 'content-type': 'application/json', ...headers },
      body,
      { allowPrivate: opts.allowPrivate, allowedHosts: opts.allowedHosts },
      opts.timeoutMs ?? 10_000,
    );
    return { status };
  };
}
