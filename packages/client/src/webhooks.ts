// Verifies a webhook from the farm (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature) with the
// standardwebhooks package, and returns the parsed payload. Throws when the signature or timestamp is wrong.
import { Webhook } from 'standardwebhooks';
import type { WebhookPayload } from './types';

export type WebhookHeaders = Record<string, string | string[] | undefined> | Headers;

function headerRecord(headers: WebhookHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function') {
    (headers as Headers).forEach((value, key) => {
      out[key.toLowerCase()] = value;
    });
    return out;
  }
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** `secret` is the farm's WEBHOOK_SECRET (`whsec_...`); `body` the raw request body, exactly as received. */
export function verifyWebhook(secret: string, body: string | Uint8Array, headers: WebhookHeaders): WebhookPayload {
  const raw = typeof body === 'string' ? body : new TextDecoder().decode(body);
  return new Webhook(secret).verify(raw, headerRecord(headers)) as WebhookPayload;
}
