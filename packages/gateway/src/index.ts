export { createApp, type AppDeps } from './app';
export { startGateway, type RunningGateway } from './server';
export { createAuth, hashPassword, verifyPassword, hashApiKey } from './auth';
export { signWebhook, generateWebhookSecret } from './webhooks/sign';
