import { test } from 'vitest';
import { createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret, signWebhook } from '../src/webhooks/sign';
import { createWebhookSender, isPrivateAddress, assertPublicUrl } from '../src/webhooks/send';

test("signatures are the spec's HMAC, computed here independently, and verify with the standardwebhooks package", () => {
  const secret = generateWebhookSecret();
  const body = JSON.stringify({ type: 'job.succeeded', data: { id: 'j1' } });
  const ts = Math.floor(Date.now() / 1000);
  const headers = signWebhook(secret, 'msg_1', ts, body);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  assert.equal(headers['webhook-signature'], `v1,${createHmac('sha256', key).update(`msg_1.${ts}.${body}`).digest('base64')}`);
  assert.deepEqual([headers['webhook-id'], headers['webhook-timestamp']], ['msg_1', String(ts)]);
  assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
  assert.throws(() => new Webhook(secret).verify(body + ' ', headers));
  assert.throws(() => new Webhook(generateWebhookSecret()).verify(body, headers));
});

test('private, loopback, link-local and metadata addresses are recognised', () => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '192.168.0.1', '172.16.5.5', '169.254.169.254', '100.64.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1'])
    assert.ok(isPrivateAddress(ip), ip);
  for (const ip of ['8.8.8.8', '172.32.0.1', '2606:4700::1111']) assert.ok(!isPrivateAddress(ip), ip);
});

test('assertPublicUrl refuses loopback hosts', async () => {
  await assert.rejects(assertPublicUrl('http://127.0.0.1:9/x'), /non-public/);
  await assert.rejects(assertPublicUrl('http://[::1]:9/x'), /non-public/);
  await assertPublicUrl('http://8.8.8.8/hook');
});

test('the sender posts a signed body, and refuses a loopback receiver unless allowed', async () => {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const secret = generateWebhookSecret();
    const delivery = { deliveryId: 'msg_abc', url, event: 'completed', jobId: 'j1', payload: { id: 'j1', status: 'succeeded' } } as never;
    await assert.rejects(createWebhookSender({ secret, allowPrivate: false })(delivery), /non-public/);
    assert.equal(got.length, 0);
    const { status } = await createWebhookSender({ secret, allowPrivate: true })(delivery);
    assert.equal(status, 204);
    assert.equal(got.length, 1);
    const verified = new Webhook(secret).verify(got[0]!.body, got[0]!.headers as Record<string, string>) as { type: string; data: { id: string } };
    assert.equal(verified.type, 'job.succeeded');
    assert.equal(verified.data.id, 'j1');
    assert.equal(got[0]!.headers['webhook-id'], 'msg_abc');
  } finally {
    await new Promise((r) => server.close(r));
  }
});
