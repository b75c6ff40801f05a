// A farm past one process of each kind, on loopback: one Redis, storage (a real S3 server by default), several
// gateway processes, several worker processes, and a port chooser (a TCP load balancer) in front of the gateways.
import { readFileSync } from 'node:fs';
import { startRedis, startS3Server, startPortChooser, ensureTinyModel, type RedisServer, type S3Server, type PortChooser } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, waitFor, type FarmEnv, type Proc } from './farm';

export type Gateway = Proc & { url: string; port: number };

export interface Cluster {
  redis: RedisServer;
  s3: S3Server | null;
  farm: FarmEnv;
  gateways: Gateway[];
  workers: Proc[];
  chooser: PortChooser;
  /** the chooser's URL: where clients of the cluster go */
  url: string;
  /** starts one more worker with the cluster's environment */
  addWorker(): Proc;
  /** waits until the gateways' /readyz counts `n` live workers */
  waitForWorkers(n: number, timeoutMs?: number): Promise<void>;
  /** SIGKILLs every process, stops the chooser, S3 and Redis */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  gateways?: number;
  workers?: number;
  /** 's3' (default): an s3rver bucket shared by all processes; 'fs': each process's DATA_DIR (one shared env, so one dir) */
  storage?: 's3' | 'fs';
  /** extra environment for every gateway and worker */
  env?: Record<string, string>;
  /**
   * the chooser probes this path (e.g. '/readyz') on every gateway and leaves those not answering 2xx out of rotation;
   * by default it does not probe, and only skips a gateway that refuses connections
   */
  healthPath?: string;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const started: Proc[] = [];
  let redis: RedisServer | null = null;
  let s3: S3Server | null = null;
  let chooser: PortChooser | null = null;
  const stop = async () => {
    await chooser?.close();
    for (const p of started) await p.kill('SIGKILL');
    await s3?.stop();
    await redis?.stop();
  };
  try {
    redis = await startRedis();
    const { modelsDir } = await ensureTinyModel();
    let storage: Record<string, string> = { STORAGE: 'fs' };
    if ((opts.storage ?? 's3') === 's3') {
      s3 = await startS3Server({ bucket: 'cluster-renders' });
      storage = {
        STORAGE: 's3',
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: s3.bucket,
        S3_REGION: s3.config.region,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: s3.config.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.config.secretAccessKey,
      };
    }
    const farm = farmEnv({ redisUrl: redis.url, modelsDir, storage, env: opts.env });
    const gateways: Gateway[] = [];
    const pending = Array.from({ length: opts.gateways ?? 2 }, async () => {
      const g = await startGatewayProcess(farm);
      started.push(g);
      gateways.push({ ...g, port: Number(new URL(g.url).port) });
    });
    const workers: Proc[] = [];
    const addWorker = () => {
      const w = startWorkerProcess(farm);
      started.push(w);
      workers.push(w);
      return w;
    };
    for (let i = 0; i < (opts.workers ?? 3); i++) addWorker();
    const results = await Promise.allSettled(pending);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    gateways.sort((a, b) => a.port - b.port);
    chooser = await startPortChooser(
      gateways.map((g) => g.port),
      { healthPath: opts.healthPath, healthIntervalMs: 100 },
    );
    const live = async (n: number) => {
      for (const g of gateways) {
        if (g.child.exitCode !== null || g.child.signalCode !== null) continue;
        const r = await fetch(`${g.url}/readyz`);
        if (r.status !== 200 || (await r.json()).workers !== n) return false;
      }
      return true;
    };
    const waitForWorkers = async (n: number, timeoutMs = 90_000) => {
      await waitFor(`${n} live workers`, () => live(n), timeoutMs);
    };
    await waitForWorkers(workers.length);
    return { redis, s3, farm, gateways, workers, chooser, url: chooser.url, addWorker, waitForWorkers, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Resident memory of a process in bytes (VmRSS from /proc/<pid>/status), or null once it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The worker_id a render worker gives itself contains its process id: `${hostname}-${pid}-${random}`. */
export function isWorkerOf(workerId: string | null | undefined, proc: Proc): boolean {
  return typeof workerId === 'string' && workerId.includes(`-${proc.child.pid}-`);
}
