// Graceful shutdown state shared by the routes. Draining: still serving, /readyz says 503 so load balancers take the
// gateway out, and every response carries `Connection: close` so keep-alive clients move to other gateways.
// Closing: the listener is closed; long-lived streams (SSE) end so their clients reconnect elsewhere.
import type { RequestHandler } from 'express';

export class ShutdownState {
  draining = false;
  closing = false;
  private readonly streamClosers = new Set<() => void>();

  readonly middleware: RequestHandler = (_req, res, next) => {
    if (this.draining) res.setHeader('Connection', 'close');
    next();
  };

  /** Registers a long-lived response to end when the gateway closes; returns the unregister function. */
  onClose(end: () => void): () => void {
    if (this.closing) {
      end();
      return () => {};
    }
    this.streamClosers.add(end);
    return () => this.streamClosers.delete(end);
  }

  beginDrain(): void {
    this.draining = true;
  }

  beginClose(): void {
    this.draining = true;
    this.closing = true;
    for (const end of [...this.streamClosers]) end();
    this.streamClosers.clear();
  }
}
