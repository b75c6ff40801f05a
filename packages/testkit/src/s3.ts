// A real S3-compatible server (s3rver) on a loopback port, for storage tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface S3Server {
  endpoint: string;
  bucket: string;
  port: number;
  config: { kind: 's3'; bucket: string; region: string; endpoint: string; forcePathStyle: true; accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
  /** starts it again on the same port with the same objects (after stop, to simulate an outage) */
  restart(): Promise<void>;
}

export async function startS3Server(opts: { bucket?: string; port?: number } = {}): Promise<S3Server> {
  const bucket = opts.bucket ?? 'renders';
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const create = (port: number) => new S3rver({ port, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  let server = create(opts.port ?? 0);
  const { port } = (await server.run()) as unknown as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  let running = true;
  return {
    endpoint,
    bucket,
    port,
    config: { kind: 's3', bucket, region: 'us-east-1', endpoint, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async stop() {
      if (!running) return;
      running = false;
      await server.close();
    },
    async restart() {
      if (running) return;
      server = create(port);
      await server.run();
      running = true;
    },
  };
}
