// Which addresses a webhook may be delivered to. Classification is ipaddr.js's table of the IANA special-purpose
// registries (IPv4 and IPv6): an IPv4 address must be plain unicast; an IPv6 address must be global unicast
// (2000::/3) outside every special block — NAT64 (64:ff9b::/96), 6to4, Teredo, IPv4-compatible (::a.b.c.d),
// site-local (fec0::/10), ... all embed or reach addresses we cannot vouch for. IPv4-mapped IPv6 (::ffff:a.b.c.d,
// however it is spelled) is judged as the IPv4 address it maps.
import ipaddr from 'ipaddr.js';

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

export function isPublicAddress(ip: string): boolean {
  if (!ipaddr.isValid(ip)) return false;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (addr.range() !== 'unicast') return false;
  return addr.kind() === 'ipv4' || (addr as ipaddr.IPv6).match(GLOBAL_UNICAST_V6);
}

export function isPrivateAddress(ip: string): boolean {
  return !isPublicAddress(ip);
}

/** Host names (and IP literals) from WEBHOOK_ALLOWED_HOSTS, lower-case, without IPv6 brackets. */
export function parseAllowedHosts(spec: string): ReadonlySet<string> {
  return new Set(
    spec
      .split(',')
      .map((h) =>
        h
          .trim()
          .replace(/^\[|\]$/g, '')
          .toLowerCase(),
      )
      .filter(Boolean),
  );
}

/** The URL's host as the policy sees it: lower-case, without IPv6 brackets (the URL parser already normalised it). */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

export class RefusedTargetError extends Error {
  constructor(host: string) {
    super(`webhook host ${host} resolves to a private, loopback or otherwise non-public address`);
  }
}
