// Which webhook targets are refused: everything outside plain public unicast (the IANA special-purpose blocks, in
// every IPv6 spelling that embeds an IPv4 address), unless the host is on the allowlist; the check happens on the
// connection itself, and connection errors do not leak into what the user sees.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertPublicUrl, isPrivateAddress, parseAllowedHosts, postTo } from '../src/webhooks/send';

// Each of these passed the old check (issue 19, defect 2), plus the classic private ranges.
const BYPASSES = [
  '::ffff:127.0.0.1',
  '0:0:0:0:0:ffff:7f00:1',
  '::ffff:7f00:1',
  '::ffff:169.254.169.254',
  '::ffff:10.0.0.1',
  '::127.0.0.1',
  '64:ff9b::a9fe:a9fe',
  'fec0::1',
  '198.18.0.1',
  '224.0.0.1',
  '255.255.255.255',
  '192.0.0.1',
];
const PRIVATE = [
  '127.0.0.1',
  '10.1.2.3',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '169.254.169.254',
  '0.0.0.0',
  '100.64.0.1',
  '::1',
  '::',
  'fd00::1',
  'fe80::1',
  '2002:7f00:1::1' /* 6to4 of 127.0.0.1 */,
  '2001:0:4136:e378:8000:63bf:80ff:fffe' /* Teredo */,
  'ff02::1',
  '192.0.2.1',
  '240.0.0.1',
  '2001:db8::1',
];

test('special-purpose addresses are not public, in every spelling; public unicast is', () => {
  for (const ip of [...BYPASSES, ...PRIVATE]) assert.equal(isPrivateAddress(ip), true, ip);
  for (const ip of ['93.184.216.34', '172.32.0.1', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '2a00:1450:4001:80b::200e'])
    assert.equal(isPrivateAddress(ip), false, ip);
});

test('URLs are refused by address, in the forms the URL parser normalises, and an allowlisted host passes', async () => {
  const urls = [
    ...BYPASSES.map((ip) => (ip.includes(':') ? `http://[${ip}]:8080/x` : `http://${ip}:8080/x`)),
    'http://127.0.0.1:8080/x',
    'http://[::1]/x',
    'http://169.254.169.254/latest/meta-data',
    'http://localhost/x',
    'https://10.0.0.5/hook',
    'http://2130706433/x',
    'http://0x7f.1/x',
    'http://017700000001/x',
  ];
  for (const url of urls) await assert.rejects(assertPublicUrl(url), /non-public/, url);
  await assertPublicUrl('https://93.184.216.34/hook');
  const allowed = parseAllowedHosts(' LocalHost , 10.0.0.5,[::1] ');
  assert.deepEqual([...allowed], ['localhost', '10.0.0.5', '::1']);
  await assertPublicUrl('http://localhost/x', allowed);
  await assertPublicUrl('https://10.0.0.5/hook', allowed);
  await assertPublicUrl('http://[::1]/x', allowed);
  await assert.rejects(assertPublicUrl('http://127.0.0.1/x', allowed), /non-public/, 'only the listed spelling of a host is allowed');
});

test('delivery connects only to checked addresses and reports connection failures without details', async () => {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '::', r));
  const port = (server.address() as AddressInfo).port;
  try {
    for (const host of ['[::ffff:127.0.0.1]', '[0:0:0:0:0:ffff:7f00:1]', '127.0.0.1', '[::1]', 'localhost']) {
      await assert.rejects(postTo(`http://${host}:${port}/hook`, {}, '{}', {}, 5000), /non-public/, host);
    }
    assert.equal(hits, 0, 'nothing reached the loopback receiver');
    // the same receiver is reachable when allowed (so the refusals above were the policy, not the network)
    assert.equal(await postTo(`http://localhost:${port}/hook`, {}, '{}', { allowedHosts: parseAllowedHosts('localhost') }, 5000), 204);
    assert.equal(await postTo(`http://[::ffff:127.0.0.1]:${port}/hook`, {}, '{}', { allowPrivate: true }, 5000), 204);
    assert.equal(hits, 2);
  } finally {
    await new Promise((r) => server.close(r));
  }
  // a closed port: the error names neither the port nor the kind of failure
  const closed = await assert.rejects(postTo(`http://127.0.0.1:${port}/hook`, {}, '{}', { allowPrivate: true }, 5000), (e: Error) => {
    assert.doesNotMatch(e.message, new RegExp(`${port}|ECONNREFUSED|127\\.0\\.0\\.1`));
    assert.match(e.message, /no HTTP answer/);
    return true;
  });
  assert.equal(closed, undefined);
});
