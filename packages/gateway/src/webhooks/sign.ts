// Standard Webhooks signatures, made by the `standardwebhooks` package (the spec's reference library):
// webhook-signature = "v1," + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)), the secret given as whsec_<base64>.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
}
