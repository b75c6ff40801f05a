// Redis connections: BullMQ workers need blocking connections that retry forever; request paths fail fast so the
// gateway can answer 503 while Redis is down.
import { Redis } from 'ioredis';
import { UnavailableError } from '@farm/core';

export function blockingConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false, retryStrategy: (n) => Math.min(n * 200, 2000) });
}

export function requestConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 200, 2000) });
}

const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|ETIMEDOUT|EPIPE|connect/i;

/** Runs a Redis operation and turns connection failures into UnavailableError (503). */
export async function redisOp<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof Error && CONNECTION_ERROR.test(e.message)) throw new UnavailableError(`Redis is unreachable: ${e.message}`);
    throw e;
  }
}
