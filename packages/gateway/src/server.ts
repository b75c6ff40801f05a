// A gateway process: the app on a port, the queue, storage, login, and the webhook delivery worker.
import { createServer, type Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { createLogger, storageConfig, type FarmConfig } from '@farm/core';
import { FarmQueue, createWebhookWorker } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { createApp } from './app';
import { createAuth } from './auth';
import { createCatalog } from './catalog';
import { createWebhookSender, parseAllowedHosts } from './webhooks/send';
import { generateWebhookSecret } from './webhooks/sign';
import { a1111Router } from './a1111';
import { openApiRouter } from './openapi';

const CLOSE_QUEUES_MS = 2000;

export interface RunningGateway {
  url: string;
  port: number;
  server: Server;
  queue: FarmQueue;
  webhookSecret: string;
  close(): Promise<void>;
}

export async function startGateway(config: FarmConfig): Promise<RunningGateway> {
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, role: 'gateway' });
  if (!config.REDIS_URL) throw new Error('REDIS_URL is required for a gateway');
  const webhookSecret = config.WEBHOOK_SECRET ?? generateWebhookSecret();
  if (!config.WEBHOOK_SECRET) logger.warn('WEBHOOK_SECRET is not set; webhooks are signed with a random secret of this process');
  const queue = new FarmQueue({
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    maxQueued: config.MAX_QUEUED,
    maxQueuedPerUser: config.MAX_QUEUED_PER_USER,
    attempts: config.JOB_ATTEMPTS,
  });
  const storage = createStorage({ ...storageConfig(config), ...(config.STORAGE === 's3' ? { createBucket: false } : {}) });
  const catalog = createCatalog(queue, {
    modelsDir: config.MODELS_DIR,
    loraDir: config.LORA_DIR,
    upscalersDir: config.UPSCALERS_DIR,
    defaultModel: config.DEFAULT_MODEL,
  });
  const auth = createAuth({ users: config.AUTH_USERS, apiKeys: config.AUTH_API_KEYS, disabled: config.AUTH_DISABLED });
  const { app, shutdown } = createApp({
    config,
    queue,
    storage,
    auth,
    catalog,
    logger,
    extraRouters: ({ metrics }) => [a1111Router({ config, queue, storage, catalog, metrics }), openApiRouter()],
    log: (msg, fields) => logger.error(fields, msg),
    debug: (msg, fields) => logger.debug(fields, msg),
  });
  const webhookWorker = createWebhookWorker({
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    lifecycle: queue.lifecycle,
    log: (msg, fields) => logger.warn(fields ?? {}, msg),
    send: createWebhookSender({
      secret: webhookSecret,
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
      allowedHosts: parseAllowedHosts(config.WEBHOOK_ALLOWED_HOSTS),
    }),
  });
  const server = createServer(app);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  logger.info({ url }, 'gateway listening');
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    server,
    queue,
    webhookSecret,
    close() {
      closing ??= (async () => {
        logger.info({ drainMs: config.SHUTDOWN_DRAIN_MS }, 'draining: /readyz 503, Connection: close');
        shutdown.beginDrain();
        await delay(config.SHUTDOWN_DRAIN_MS);
        await new Promise<void>((resolve) => {
          // net.Server's close stops accepting but, unlike http.Server's, does not cut idle keep-alive sockets, which
          // a client may be writing a request into at that very moment; they end after their next response
          // (Connection: close) or when keepAliveTimeout, which clients are told, runs out.
          NetServer.prototype.close.call(server, () => resolve());
          shutdown.beginClose();
          setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_TIMEOUT_MS).unref();
        });
        // Redis may be down or hung: closing the queues waits at most CLOSE_QUEUES_MS, then the connections are cut
        const closed = Promise.allSettled([webhookWorker.close(), queue.close()]);
        const cut = delay(CLOSE_QUEUES_MS, 'timeout', { ref: false });
        if ((await Promise.race([closed, cut])) === 'timeout') {
          logger.warn('Redis did not answer while closing; disconnecting');
          webhookWorker.close(true).catch(() => {});
          queue.disconnect();
        }
      })();
      return closing;
    },
  };
}
