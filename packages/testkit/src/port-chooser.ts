// A "port chooser": a small TCP load balancer on a free loopback port for cluster tests. Each incoming connection
// goes to the next backend port, round-robin; bytes are piped both ways. A backend that refuses the connection
// (ECONNREFUSED: a gateway that has stopped listening) is skipped for the next one, as a real balancer does, and the
// client is only dropped when every backend refused. Optionally it health-checks the backends over HTTP (like a
// load balancer's readiness probe) and leaves out of rotation those that do not answer 2xx, so a draining gateway
// (/readyz 503) stops getting new connections before it stops listening; if no backend is healthy it tries them all.
// Half-closes are passed on (one side's FIN ends the other side's writes), an error or reset on one side destroys the
// other, and socket errors never escape.
import { createConnection, createServer, type Socket } from 'node:net';
import { request } from 'node:http';

export interface PortChooserOptions {
  /** HTTP path to probe on every backend, e.g. '/readyz'; off when absent */
  healthPath?: string;
  /** probe period in ms (default 100) */
  healthIntervalMs?: number;
}

export interface PortChooser {
  url: string;
  port: number;
  readonly backends: readonly number[];
  /** connections handed to each backend so far */
  readonly handed: Map<number, number>;
  /** connection attempts each backend refused (or failed before connecting) so far */
  readonly refused: Map<number, number>;
  /** clients dropped because no backend accepted their connection */
  readonly dropped: number;
  /** backends currently in rotation (all of them without health checks) */
  healthy(): number[];
  close(): Promise<void>;
}

export async function startPortChooser(backendPorts: number[], opts: PortChooserOptions = {}): Promise<PortChooser> {
  if (backendPorts.length === 0) throw new Error('port chooser needs at least one backend');
  const backends = [...backendPorts];
  const handed = new Map<number, number>(backends.map((p) => [p, 0]));
  const refused = new Map<number, number>(backends.map((p) => [p, 0]));
  const health = new Map<number, boolean>(backends.map((p) => [p, true]));
  const open = new Set<Socket>();
  let next = 0;
  let dropped = 0;
  let closed = false;

  const track = (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
    s.on('error', () => {
      /* reported by 'close' (hadError); never thrown */
    });
  };

  /** The order to try backends in for one connection: healthy ones first from the round-robin cursor, then the rest. */
  const order = (): number[] => {
    const start = next++;
    const rotated = backends.map((_, i) => backends[(start + i) % backends.length]);
    return [...rotated.filter((p) => health.get(p)), ...rotated.filter((p) => !health.get(p))];
  };

  const connect = (port: number): Promise<Socket | null> =>
    new Promise((resolve) => {
      const upstream = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
      const onError = () => {
        upstream.destroy();
        resolve(null);
      };
      upstream.once('error', onError);
      upstream.once('connect', () => {
        upstream.off('error', onError);
        resolve(upstream);
      });
    });

  const splice = (client: Socket, upstream: Socket) => {
    client.pipe(upstream);
    upstream.pipe(client);
    const onClose = (other: Socket) => (hadError: boolean) => {
      if (other.destroyed) return;
      // a reset or error on one side resets the other; a clean close lets the other side flush what it has, then end
      if (hadError) other.resetAndDestroy();
      else if (!other.writableEnded) other.end();
    };
    client.once('close', onClose(upstream));
    upstream.once('close', onClose(client));
  };

  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    track(client);
    void (async () => {
      for (const port of order()) {
        if (client.destroyed || closed) return;
        const upstream = await connect(port);
        if (!upstream) {
          refused.set(port, refused.get(port)! + 1);
          continue;
        }
        if (client.destroyed || closed) {
          upstream.destroy();
          return;
        }
        handed.set(port, handed.get(port)! + 1);
        track(upstream);
        splice(client, upstream);
        client.resume();
        return;
      }
      dropped++;
      client.destroy();
    })();
  });
  server.on('error', () => {
    /* accept errors (EMFILE...) must not crash the test process */
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  let probing: NodeJS.Timeout | null = null;
  if (opts.healthPath) {
    const probe = (backend: number) =>
      new Promise<boolean>((resolve) => {
        const req = request({ host: '127.0.0.1', port: backend, path: opts.healthPath, agent: false, timeout: 2000 }, (res) => {
          res.resume();
          resolve(res.statusCode! >= 200 && res.statusCode! < 300);
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(false));
        req.end();
      });
    let inFlight = false;
    probing = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      void Promise.all(backends.map(async (b) => health.set(b, await probe(b)))).finally(() => {
        inFlight = false;
      });
    }, opts.healthIntervalMs ?? 100);
    probing.unref();
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    backends,
    handed,
    refused,
    get dropped() {
      return dropped;
    },
    healthy: () => backends.filter((b) => health.get(b)),
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        if (probing) clearInterval(probing);
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
