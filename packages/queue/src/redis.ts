// Redis connections: BullMQ workers need blocking connections that retry forever; request paths fail fast so the
// gateway can answer 503 while Redis is down: a command gets no more than COMMAND_TIMEOUT_MS (a Redis that accepts
// connections but does not answer), and once the connection has been up, commands issued while it is down fail at
// once instead of waiting in the offline queue for a reconnect that may never come.
import { Redis } from 'ioredis';
import { UnavailableError } from '@farm/core';

export const COMMAND_TIMEOUT_MS = 2000;

export function blockingConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false, retryStrategy: (n) => Math.min(n * 200, 2000) });
}

/** `commandTimeoutMs`: longest wait for an answer (default COMMAND_TIMEOUT_MS; benchmarks on a loaded machine raise it). */
export function requestConnection(url: string, commandTimeoutMs = COMMAND_TIMEOUT_MS): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 5000,
    retryStrategy: (n) => Math.min(n * 200, 2000),
  });
  // the offline queue only bridges the first connect (commands issued right after construction)
  redis.once('ready', () => {
    redis.options.enableOfflineQueue = false;
  });
  return redis;
}

const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|ETIMEDOUT|EPIPE|connect|Command timed out/i;

export function isRedisConnectionError(e: unknown): boolean {
  return e instanceof Error && !(e instanceof UnavailableError) && CONNECTION_ERROR.test(e.message);
}

/**
 * Runs `send`, which issues commands on `redis`, with the connection's socket corked: ioredis writes each command as it
 * is called, so corked they go out in one write, in the order issued, and Redis runs them all before it answers any
 * (a pipeline's round trip without building one). Commands must be issued before `send`'s first await.
 */
export function inOneWrite<T>(redis: Redis, send: () => T): T {
  const stream = (redis as unknown as { stream?: { cork(): void; uncork(): void } }).stream;
  stream?.cork();
  try {
    return send();
  } finally {
    stream?.uncork();
  }
}

/** Runs a Redis operation and turns connection failures into UnavailableError (503). */
export async function redisOp<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isRedisConnectionError(e)) throw new UnavailableError(`Redis is unreachable: ${(e as Error).message}`);
    throw e;
  }
}

/**
 * Waits until `redis` is ready, or answers UnavailableError after `timeoutMs`. Subscriptions go through this instead
 * of the offline queue: a SUBSCRIBE queued while the connection is down, then timed out, would still be sent later.
 */
export async function whenReady(redis: Redis, timeoutMs = COMMAND_TIMEOUT_MS): Promise<void> {
  if (redis.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onReady = resolve;
      redis.once('ready', onReady);
      timer = setTimeout(() => reject(new UnavailableError(`Redis is unreachable (connection ${redis.status})`)), timeoutMs);
    });
  } finally {
    clearTimeout(timer);
    if (onReady) redis.off('ready', onReady);
  }
}
