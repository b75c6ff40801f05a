// A TCP load balancer on a loopback port for cluster tests: connections go round-robin to the backends, and one
// that refuses (a gateway that stopped listening) is skipped for the next, as a real balancer does.
import { createConnection, createServer, type Socket } from 'node:net';

export interface TcpBalancer {
  url: string;
  port: number;
  /** connections handed to each backend port so far */
  readonly handed: Map<number, number>;
  close(): Promise<void>;
}

export async function startTcpBalancer(backendPorts: number[]): Promise<TcpBalancer> {
  let next = 0;
  const handed = new Map<number, number>(backendPorts.map((p) => [p, 0]));
  const open = new Set<Socket>();

  const connectUpstream = (tried: number): Promise<Socket | null> => {
    if (tried >= backendPorts.length) return Promise.resolve(null);
    const port = backendPorts[next++ % backendPorts.length];
    return new Promise((resolve) => {
      const upstream = createConnection({ host: '127.0.0.1', port });
      upstream.once('connect', () => { handed.set(port, handed.get(port)! + 1); resolve(upstream); });
      upstream.once('error', () => { upstream.destroy(); resolve(connectUpstream(tried + 1)); });
    });
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    if (client.destroyed) return;
    void connectUpstream(0).then((upstream) => {
      if (!upstream) { client.destroy(); return; }
      open.add(upstream);
      // ends travel through the pipes (so buffered bytes are flushed); errors reset the other side too
      upstream.on('close', () => open.delete(upstream));
      upstream.on('error', () => { upstream.destroy(); client.destroy(); });
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`, port, handed,
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    }),
  };
}
