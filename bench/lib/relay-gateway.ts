// The floor of the farm's path, for the farm-routing benchmark: a process that does what a gateway must do to pass
// a job on and hear its end, and nothing else. POST /v1/jobs/stream answers at once with an SSE event naming a new
// id, publishes the id on Redis (`<prefix>:relay:in`), and ends the stream when the id comes back on
// `<prefix>:relay:out` (the benchmark's relay worker publishes it). No express, no login, no validation, no scripts:
// the same six hops between processes as a job (client, gateway, Redis, worker, Redis, gateway, client) with no work
// on them. argv: Redis URL, prefix. Prints its port on stdout once it listens.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

const [redisUrl, prefix] = process.argv.slice(2);
const publisher = new Redis(redisUrl);
const subscriber = new Redis(redisUrl);
const waiting = new Map<string, http.ServerResponse>();
subscriber.on('message', (_channel: string, id: string) => {
  const res = waiting.get(id);
  waiting.delete(id);
  res?.end(`event: status\ndata: ${JSON.stringify({ id, status: 'succeeded' })}\n\n`);
});
await subscriber.subscribe(`${prefix}:relay:out`);

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const id = randomUUID();
    waiting.set(id, res);
    void publisher.publish(`${prefix}:relay:in`, id);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`event: status\ndata: ${JSON.stringify({ id, status: 'queued' })}\n\n`);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(typeof address === 'object' && address ? address.port : 0);
});
