// Which webhook targets are refused: loopback, private, link-local (cloud metadata) and unique-local addresses,
// unless the host is on the allowlist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPublicUrl, isPrivateAddress, parseAllowedHosts } from '../src/webhooks/send';

test('private, loopback, link-local and mapped addresses are private; public ones are not', () => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
    assert.equal(isPrivateAddress(ip), true, ip);
  }
  for (const ip of ['93.184.216.34', '172.32.0.1', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPrivateAddress(ip), false, ip);
});

test('URLs are refused by address, and an allowlisted host passes whatever it resolves to', async () => {
  for (const url of ['http://127.0.0.1:8080/x', 'http://[::1]/x', 'http://169.254.169.254/latest/meta-data', 'http://localhost/x', 'https://10.0.0.5/hook']) {
    await assert.rejects(assertPublicUrl(url), /private or loopback/, url);
  }
  await assertPublicUrl('https://93.184.216.34/hook');
  const allowed = parseAllowedHosts(' LocalHost , 10.0.0.5,[::1] ');
  assert.deepEqual([...allowed], ['localhost', '10.0.0.5', '::1']);
  await assertPublicUrl('http://localhost/x', allowed);
  await assertPublicUrl('https://10.0.0.5/hook', allowed);
  await assertPublicUrl('http://[::1]/x', allowed);
  await assert.rejects(assertPublicUrl('http://127.0.0.1/x', allowed), /private or loopback/, 'only the listed spelling of a host is allowed');
});
