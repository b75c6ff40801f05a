// The farm's fast path and its routing (issue 18): per-job overhead (submit -> done minus engine time) with its
// breakdown, through a real gateway process, POST /v1/jobs/stream from a client process of its own and in-process
// workers (the client's times come on the monotonic clock every process shares), and the floor under it: the same
// client and hops through a bare relay in place of the farm (./lib/relay-gateway.ts), both measured after a warm-up
// (BENCH_WARMUP jobs, default 1000: the steady state of processes whose code V8 has optimized);
// then jobs per second with 1, 2 and 4 workers on a mix of two models and four LoRA sets, model switches per 100 jobs
// with model-aware routing and with one shared queue, and the longest time a job waited while a worker sat idle.
import { cpSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { DEFAULT_ENGINE_NICE, type GenerationParams, type JobEnvelope } from '@farm/core';
import { Engine } from '@farm/engine';
import { Redis } from 'ioredis';
import { FarmQueue, type JobTimings } from '@farm/queue';
import { createStorage } from '@farm/storage';
import { startWorker } from '@farm/worker';
import { startRedis, ensureTinyLoras } from '@farm/testkit';
import { monotonicOffset } from './lib/monotonic';
import { farmEnv, startGatewayProcess, waitForWorkers, type Proc } from '../test/helpers/farm';
import { summarize } from './lib/stats';
import type { StreamedJob } from './lib/stream-client';
import { fmt, writeResult, type Row } from './lib/report';

const clock = () => performance.timeOrigin + performance.now();
/**
 * MODEL_SWITCH_AFTER_MS for the mix: near the tiny model's load time (~80 ms), as the setting's rule of thumb says,
 * and half of it: a job waits up to about this long for a warm worker while another worker idles, by design
 */
const SWITCH_AFTER_MS = [50, 25];
/** the first runs of each series (engine, farm, relay, gateway alone), not measured: model loads, new connections */
const FIRST_LOADS = 3;
const job = { prompt: 'a lighthouse', width: 64, height: 64, steps: 4, sampler: 'Euler', seed: 1 };

interface Ended {
  e: JobEnvelope;
  t?: JobTimings;
}

// node:http with a keep-alive agent for the gateway-alone requests (the jobs' client is ./lib/stream-client)
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** ms from sending a request to the first byte of its answer (a stream is then closed). */
function firstByte(url: string, method: string, path: string, auth?: string, body?: unknown): Promise<number> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = auth ? { authorization: auth } : {};
  if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  const sent = clock();
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, agent, headers }, (res) => {
      res.once('data', () => {
        const ms = clock() - sent;
        if (res.statusCode !== 200 && res.statusCode !== 202) return reject(new Error(`${method} ${path}: ${res.statusCode}`));
        // an SSE stream stays open until its job ends (none runs here): close it; drain anything else
        if (String(res.headers['content-type']).startsWith('text/event-stream')) res.destroy();
        else res.resume();
        resolve(ms);
      });
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Longest stretch any job spent waiting while some worker had nothing to run (busy = from taking a batch to its end). */
function longestIdleWait(ended: Ended[], workers: string[], from: number, to: number, submittedAt: Map<string, number>): number {
  const busy = new Map<string, [number, number][]>(workers.map((w) => [w, []]));
  for (const { e, t } of ended) if (t && e.worker_id) busy.get(e.worker_id)?.push([t.taken, t.finished]);
  const idleAt = (w: string, a: number, b: number) => {
    // the idle part of [a, b] for worker w
    const spans = busy
      .get(w)!
      .filter(([s, f]) => f > a && s < b)
      .sort((x, y) => x[0] - y[0]);
    let idle = 0;
    let cursor = a;
    for (const [s, f] of spans) {
      if (s > cursor) idle = Math.max(idle, s - cursor);
      cursor = Math.max(cursor, f);
    }
    return Math.max(idle, b - cursor);
  };
  let worst = 0;
  for (const { e, t } of ended) {
    const start = submittedAt.get(e.id);
    if (!t || start === undefined) continue;
    for (const w of workers) worst = Math.max(worst, idleAt(w, Math.max(start, from), Math.min(t.taken, to)));
  }
  return worst;
}

export async function runFarmRoutingBench(opts: { latencyRuns: number; warmupJobs: number; jobs: number; phases?: string[] }) {
  const phase = (name: string) => !opts.phases || opts.phases.includes(name);
  // Redis as the farm deploys it (AOF, fsync once a second); the tests' Redis syncs every write, ~0.5 ms each here
  const redis = await startRedis({ appendfsync: 'everysec' });
  const { modelsDir: tinyDir, loraDir, names: loras } = await ensureTinyLoras();
  const modelsDir = mkdtempSync(join(tmpdir(), 'bench-models-'));
  for (const m of ['model-a', 'model-b']) cpSync(join(tinyDir, 'tiny'), join(modelsDir, m), { recursive: true });
  const storage = createStorage({ kind: 'fs', dir: mkdtempSync(join(tmpdir(), 'bench-out-')) });
  const procs: Proc[] = [];
  try {
    // the engine alone, same job
    const engine = new Engine({ modelsDir, loraDir, maxPixels: 1 << 22, maxSteps: 1000 });
    const params: GenerationParams = {
      kind: 'txt2img',
      model: 'model-a',
      negative_prompt: '',
      scheduler: 'Automatic',
      cfg_scale: 7,
      batch_size: 1,
      n_iter: 1,
      denoising_strength: 0.75,
      resize_mode: 0,
      loras: [],
      controlnet: [],
      ...job,
    };
    const directSamples: number[] = [];
    for (let i = 0; i < opts.latencyRuns + FIRST_LOADS; i++) {
      const t0 = performance.now();
      await engine.generate([{ id: 'd', params }]);
      if (i >= FIRST_LOADS) directSamples.push(performance.now() - t0);
    }

    // overhead: gateway process, one in-process worker, submit-and-stream
    // an API key (one SHA-256), not a password (scrypt by design), so the figure is the farm's and not the login's
    const token = 'bench-token';
    const farm = farmEnv({
      redisUrl: redis.url,
      modelsDir,
      env: {
        LORA_DIR: loraDir,
        AUTH_API_KEYS: `${createHash('sha256').update(token).digest('hex')}:alice`,
        // the production rate limits (farmEnv turns them off for tests): their Redis script is part of the overhead
        RATE_LIMIT_REQUESTS: String(Math.max(1200, 4 * (opts.warmupJobs + opts.latencyRuns) + 40)),
        RATE_LIMIT_SUBMITS: String(Math.max(120, 2 * (opts.warmupJobs + opts.latencyRuns) + 20)),
      },
    });
    const prefix = farm.env.QUEUE_PREFIX!;
    const gateway = await startGatewayProcess(farm);
    procs.push(gateway);
    const auth = `Bearer ${token}`;
    const timings = new Map<string, JobTimings>();
    const w = await startWorker({
      commandTimeoutMs: 30_000,
      // as deployed: the engine's threads at ENGINE_NICE's default
      engineNice: DEFAULT_ENGINE_NICE,
      redisUrl: redis.url,
      prefix,
      modelsDir,
      loraDir,
      storage,
      maxBatch: 4,
      maxPixels: 1 << 22,
      maxSteps: 1000,
      observer: {
        jobEnded: (e, t) => {
          if (t) timings.set(e.id, t);
        },
      },
    });
    await waitForWorkers(gateway.url, 1);
    const rows: Record<string, number[]> = { enqueue: [], wait: [], start: [], engine: [], store: [], finish: [], notify: [], total: [], overhead: [] };
    // the same job warmUp times before the measured ones: V8 optimizes a function only once it has run enough, so the
    // first few hundred jobs after a start measure its compiler (the fresh row below), not the farm's steady state
    const warmUp = Math.max(FIRST_LOADS, opts.warmupJobs);
    const bodies = Array.from({ length: warmUp + opts.latencyRuns }, (_, i) => ({ ...job, model: 'model-a', seed: i }));
    const streamed = await runStreamClient(gateway.url, auth, bodies);
    for (const r of streamed.slice(warmUp)) {
      const t = timings.get(r.id);
      if (!t) continue;
      const parts = {
        enqueue: r.firstEvent - r.posted,
        wait: t.taken - r.firstEvent,
        start: t.engineStarted - t.taken,
        engine: t.engineDone - t.engineStarted,
        store: t.stored - t.engineDone,
        finish: t.finished - t.stored,
        notify: r.done - t.finished,
        total: r.done - r.posted,
      };
      for (const [k, v] of Object.entries(parts)) rows[k].push(v);
      rows.overhead.push(parts.total - parts.engine);
    }
    await w.close();
    const latency: Row[] = Object.entries(rows).map(([part, samples]) => {
      const s = summarize(samples);
      return { part, p50_ms: fmt(s.median_ms), p99_ms: fmt(s.p99_ms), max_ms: fmt(s.max_ms) };
    });
    const d = summarize(directSamples);
    latency.push({ part: 'engine alone, in-process (reference)', p50_ms: fmt(d.median_ms), p99_ms: fmt(d.p99_ms), max_ms: fmt(d.max_ms) });
    // the stricter reading: everything but the engine alone's median (the engine thread's own hop counts as overhead)
    const strict = summarize(rows.total.map((t) => t - d.median_ms));
    latency.push({ part: 'total minus the engine alone (p50)', p50_ms: fmt(strict.median_ms), p99_ms: fmt(strict.p99_ms), max_ms: fmt(strict.max_ms) });
    // the jobs right after the start (after the model's first loads), when the warm-up is long enough to hold as many
    if (warmUp >= FIRST_LOADS + opts.latencyRuns) {
      const fresh = streamed.slice(FIRST_LOADS, FIRST_LOADS + opts.latencyRuns).flatMap((r) => {
        const t = timings.get(r.id);
        return t ? [r.done - r.posted - (t.engineDone - t.engineStarted)] : [];
      });
      const f = summarize(fresh);
      latency.push({ part: 'overhead of the jobs right after the start (no warm-up)', p50_ms: fmt(f.median_ms), p99_ms: fmt(f.p99_ms), max_ms: fmt(f.max_ms) });
    }
    // the floor: the same hops with nothing on them, back to back and around the same engine call
    for (const [part, work] of [
      ['the same six hops, nothing on them (bare relay)', null],
      ['the same six hops around the engine call, minus it (bare relay)', () => engine.generate([{ id: 'r', params }])],
    ] as const) {
      const floor = summarize(await relayFloor(redis.url, warmUp, opts.latencyRuns, work));
      latency.push({ part, p50_ms: fmt(floor.median_ms), p99_ms: fmt(floor.p99_ms), max_ms: fmt(floor.max_ms) });
    }
    await engine.close();

    // the gateway alone (the worker has stopped, so nothing else runs): what HTTP, login and the limiter, and then
    // the submission itself, cost on this machine; the jobs submitted here stay queued under this prefix
    const gatewayRows: Row[] = [];
    const gatewayCases: [string, () => Promise<number>][] = [
      ['GET /healthz (no login)', () => firstByte(gateway.url, 'GET', '/healthz')],
      ['GET /v1/jobs?limit=1 (login, rate limiter, one read)', () => firstByte(gateway.url, 'GET', '/v1/jobs?limit=1', auth)],
      ['POST /v1/jobs/stream until its first event', () => firstByte(gateway.url, 'POST', '/v1/jobs/stream', auth, { ...job, model: 'model-a' })],
    ];
    for (const [request, call] of phase('gateway') ? gatewayCases : []) {
      const samples: number[] = [];
      for (let i = 0; i < opts.latencyRuns + FIRST_LOADS; i++) {
        const ms = await call();
        if (i >= FIRST_LOADS) samples.push(ms);
      }
      const s = summarize(samples);
      gatewayRows.push({ request, p50_ms: fmt(s.median_ms), p99_ms: fmt(s.p99_ms) });
    }

    // throughput and routing: a mix of two models and four LoRA sets, all submitted at once
    const sets = [[], [loras[0]], [loras[1]], [loras[0], loras[1]]].map((names) => names.map((name) => ({ name, weight: 0.7 })));
    const mix = Array.from({ length: opts.jobs }, (_, i) => ({
      ...params,
      model: i % 2 === 0 ? 'model-a' : 'model-b',
      loras: sets[Math.floor(i / 2) % 4],
      seed: i,
    }));
    const throughput: Row[] = [];
    const modes = [...SWITCH_AFTER_MS.map((after) => ({ routing: 'model' as const, after })), { routing: 'shared' as const, after: SWITCH_AFTER_MS[0] }];
    for (const count of phase('throughput') ? [1, 2, 4] : []) {
      for (const { routing, after } of modes) {
        const p = `b${randomUUID().slice(0, 8)}`;
        const queue = new FarmQueue({ redisUrl: redis.url, prefix: p, commandTimeoutMs: 30_000 });
        const ended: Ended[] = [];
        let switches = 0;
        const ids = Array.from({ length: count }, (_, n) => `w${n}`);
        const workers = await Promise.all(
          ids.map((workerId) => {
            let last: string | null = null;
            return startWorker({
              commandTimeoutMs: 30_000,
              engineNice: DEFAULT_ENGINE_NICE,
              redisUrl: redis.url,
              prefix: p,
              workerId,
              routing,
              switchAfterMs: after,
              // several workers: the cores shared out among them (ORT_THREADS), as a deployment sizes several workers
              // on one host; each would otherwise run as many compute threads as there are cores
              intraOpThreads: count > 1 ? Math.max(1, Math.floor(availableParallelism() / count)) : undefined,
              modelsDir,
              loraDir,
              storage,
              maxBatch: 4,
              maxPixels: 1 << 22,
              maxSteps: 1000,
              observer: {
                jobEnded: (e, t) => {
                  ended.push({ e, t });
                },
                batchStarted: ({ model }) => {
                  if (last !== null && last !== model) switches++;
                  last = model;
                },
              },
            });
          }),
        );
        // warm-up: one model-a job per worker, each with a batch key of its own (its step count) so that no worker
        // batches two of them: the workers start holding model-a, as alike in both modes as the race for jobs allows
        const warm = await Promise.all(ids.map((_, n) => queue.submit({ ...params, steps: n + 1, seed: 999 }, { owner: 'bench' })));
        await until(() => warm.every((s) => ended.some((x) => x.e.id === s.id)));
        ended.length = 0;
        switches = 0;
        const submitter = await startSubmitter(redis.url, p);
        const t0 = clock();
        const submittedAt = await submitter.submit(mix);
        await until(() => ended.length >= mix.length);
        const seconds = (clock() - t0) / 1000;
        throughput.push({
          workers: count,
          routing: routing === 'model' ? `model-aware, switch after ${after} ms` : 'one shared queue',
          jobs: mix.length,
          jobs_per_s: (mix.length / seconds).toFixed(2),
          model_switches_per_100_jobs: ((100 * switches) / mix.length).toFixed(1),
          longest_wait_while_a_worker_idle_ms: fmt(longestIdleWait(ended, ids, t0, clock(), submittedAt)),
          failed: ended.filter((x) => x.e.status !== 'succeeded').length,
        });
        for (const x of workers) await x.close();
        await queue.close();
      }
    }
    return writeResult(
      'farm-routing',
      {
        ...opts,
        job,
        models: ['model-a', 'model-b'],
        lora_sets: sets.length,
        max_batch: 4,
        model_switch_after_ms: SWITCH_AFTER_MS,
        rate_limits: 'production defaults',
        redis: 'AOF, appendfsync everysec (as deployed)',
        ort_threads: 'default for 1 worker, cores / workers for more',
        client: 'node:http keep-alive, in a process of its own',
      },
      [
        { title: 'Farm overhead per job (tiny, 64x64, 4 steps; POST /v1/jobs/stream through a gateway process, one worker)', rows: latency },
        { title: 'The gateway alone, no worker running: time to the first byte of the answer', rows: gatewayRows },
        { title: 'Two models x four LoRA sets, all jobs submitted at once', rows: throughput },
      ],
    );
  } finally {
    for (const p of procs) await p.kill('SIGKILL');
    await redis.stop();
  }
}

/**
 * The floor under the overhead: the same client, a bare relay in place of the gateway (./lib/relay-gateway.ts) and a
 * relay worker here, in the benchmark's process as the farm's worker is, passing each id back through Redis pub/sub:
 * client, gateway, Redis, worker, Redis, gateway, client, with nothing done on the way. Totals per request, ms.
 */
async function relayFloor(redisUrl: string, warmUp: number, runs: number, work: (() => Promise<unknown>) | null): Promise<number[]> {
  const prefix = `relay${randomUUID().slice(0, 8)}`;
  const publisher = new Redis(redisUrl);
  const subscriber = new Redis(redisUrl);
  // per id: how long the work took, taken off the request's total
  const worked = new Map<string, number>();
  subscriber.on('message', (_channel: string, id: string) => {
    const started = clock();
    void (work ? work() : Promise.resolve()).then(() => {
      worked.set(id, clock() - started);
      return publisher.publish(`${prefix}:relay:out`, id);
    });
  });
  await subscriber.subscribe(`${prefix}:relay:in`);
  const child = startChild('relay-gateway', [redisUrl, prefix]);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
      child.once('exit', (code) => reject(new Error(`the relay gateway exited with ${code}`)));
    });
    // warmed up as the farm is (the client's code is the same)
    const jobs = await runStreamClient(
      `http://127.0.0.1:${port}`,
      'none',
      Array.from({ length: warmUp + runs }, () => ({})),
    );
    return jobs.slice(warmUp).map((j) => j.done - j.posted - (worked.get(j.id) ?? 0));
  } finally {
    child.kill('SIGKILL');
    publisher.disconnect();
    subscriber.disconnect();
  }
}

/** Starts ./lib/<script>.ts in a Node process of its own (through tsx): stdin and stdout piped to this one, stderr shared. */
function startChild(script: string, args: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`./lib/${script}.ts`, import.meta.url)), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

/** Runs ./lib/stream-client in a process of its own: the jobs one after another, each one's client-side times. */
async function runStreamClient(url: string, auth: string, bodies: unknown[]): Promise<StreamedJob[]> {
  const child = startChild('stream-client', [url, auth]);
  // on stdin: a thousand bodies are more than a command line takes
  child.stdin.end(JSON.stringify(bodies));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`the stream client exited with ${code}`);
  // the client's times are on the system's monotonic clock: moved onto this process's clock (the worker's timings')
  const offset = monotonicOffset(clock);
  return out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as StreamedJob)
    .map((j) => ({ ...j, posted: j.posted + offset, firstEvent: j.firstEvent + offset, done: j.done + offset }));
}

/**
 * Starts ./lib/submit-child (the mix's submitter, in a process of its own as a gateway is); `submit` hands it the
 * jobs and answers when each submission was answered, on this process's clock (the workers' timings').
 */
async function startSubmitter(redisUrl: string, prefix: string): Promise<{ submit(mix: GenerationParams[]): Promise<Map<string, number>> }> {
  const child = startChild('submit-child', [redisUrl, prefix]);
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await until(() => out.startsWith('ready\n') || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`the submitter exited with ${child.exitCode}`);
  return {
    async submit(mix) {
      child.stdin.end(JSON.stringify(mix) + '\n');
      const code = await exited;
      if (code !== 0) throw new Error(`the submitter exited with ${code}`);
      const offset = monotonicOffset(clock);
      const lines = out.trim().split('\n').slice(1);
      return new Map(lines.map((line) => JSON.parse(line) as { id: string; at: number }).map((s) => [s.id, s.at + offset]));
    },
  };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}
