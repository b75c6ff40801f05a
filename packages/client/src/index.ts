// @farm/client: a typed client for the render farm's native job API. No dependency on the server packages.
export { FarmClient, type FarmClientOptions, type WaitOptions } from './client';
export { FarmApiError, WaitTimeoutError } from './errors';
export { verifyWebhook, type WebhookHeaders } from './webhooks';
export { readSse, type SseEvent } from './sse';
export * from './types';
