// The farm's own cost: submit-to-done latency through gateway + Redis + worker + storage against the same job run
// in-process on the engine; jobs per second with 1 and 2 workers; submissions per second the gateway accepts.
import autocannon from 'autocannon';
import type { GenerationParams } from '@farm/core';
import { Engine } from '@farm/engine';
import { startRedis, ensureTinyModel } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, client, waitFor, type Proc } from '../test/helpers/farm';
import { summarize, timeIt } from './lib/stats';
import { fmt, writeResult, type Row } from './lib/report';

const job = { prompt: 'a lighthouse', width: 64, height: 64, steps: 10, sampler: 'Euler a', seed: 1 };

async function untilDone(url: string, auth: string, id: string): Promise<void> {
  const res = await fetch(`${url}/v1/jobs/${id}/events`, { headers: { authorization: auth } });
  await res.text();
}

export async function runFarmBench(opts: { latencyRuns: number; throughputJobs: number }) {
  // Redis as the farm deploys it (AOF, fsync once a second), as in the farm-routing bench
  const redis = await startRedis({ appendfsync: 'everysec' });
  const { modelsDir } = await ensureTinyModel();
  const procs: Proc[] = [];
  try {
    const engine = new Engine({ modelsDir, maxPixels: 1 << 22, maxSteps: 1000 });
    const params: GenerationParams = {
      kind: 'txt2img',
      model: 'tiny',
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
    const direct = await timeIt(() => engine.generate([{ id: 'd', params }]), { warmup: 2, runs: opts.latencyRuns });
    await engine.close();

    const farm = farmEnv({ redisUrl: redis.url, modelsDir });
    const gateway = await startGatewayProcess(farm);
    procs.push(gateway);
    const alice = client(gateway.url);
    const workers = [startWorkerProcess(farm)];
    procs.push(...workers);
    await waitFor('a worker', async () => (await (await fetch(`${gateway.url}/readyz`)).json()).workers === 1);
    const samples: number[] = [];
    for (let i = 0; i < opts.latencyRuns + 2; i++) {
      const t0 = performance.now();
      const created = await alice.post('/v1/jobs', job);
      await untilDone(gateway.url, alice.auth, created.body.id);
      if (i >= 2) samples.push(performance.now() - t0);
    }
    const viaFarm = summarize(samples);
    const latency: Row[] = [
      { path: 'engine in-process', p50_ms: fmt(direct.median_ms), p99_ms: fmt(direct.p99_ms), min_ms: fmt(direct.min_ms), max_ms: fmt(direct.max_ms) },
      {
        path: 'HTTP -> gateway -> Redis -> worker -> storage -> SSE',
        p50_ms: fmt(viaFarm.median_ms),
        p99_ms: fmt(viaFarm.p99_ms),
        min_ms: fmt(viaFarm.min_ms),
        max_ms: fmt(viaFarm.max_ms),
      },
      { path: 'farm overhead (p50 difference)', p50_ms: fmt(viaFarm.median_ms - direct.median_ms), p99_ms: '', min_ms: '', max_ms: '' },
    ];

    const throughput: Row[] = [];
    for (const count of [1, 2]) {
      while (workers.length < count) {
        const w = startWorkerProcess(farm);
        workers.push(w);
        procs.push(w);
      }
      await waitFor(`${count} workers`, async () => (await (await fetch(`${gateway.url}/readyz`)).json()).workers === count);
      const t0 = performance.now();
      const ids = await Promise.all(
        Array.from({ length: opts.throughputJobs }, (_, i) => alice.post('/v1/jobs', { ...job, seed: i }).then((r) => r.body.id as string)),
      );
      await Promise.all(ids.map((id) => untilDone(gateway.url, alice.auth, id)));
      const seconds = (performance.now() - t0) / 1000;
      throughput.push({ workers: count, jobs: opts.throughputJobs, seconds: seconds.toFixed(2), jobs_per_s: (opts.throughputJobs / seconds).toFixed(2) });
    }

    const result = await autocannon({
      url: `${gateway.url}/v1/jobs`,
      method: 'POST',
      connections: 16,
      duration: 5,
      headers: { authorization: alice.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ...job, steps: 1 }),
    });
    const accept: Row[] = [
      {
        connections: 16,
        seconds: 5,
        accepted_per_s: result.requests.average.toFixed(0),
        p50_ms: result.latency.p50,
        p99_ms: result.latency.p99,
        non_2xx: result.non2xx,
        errors: result.errors,
      },
    ];
    return writeResult('farm', { ...opts, job }, [
      { title: 'Submit-to-done latency (tiny, 64x64, 10 steps)', rows: latency },
      { title: 'Jobs per second with worker processes', rows: throughput },
      { title: 'Submissions per second the gateway accepts while a worker runs (autocannon)', rows: accept },
    ]);
  } finally {
    for (const p of procs) await p.kill('SIGKILL');
    await redis.stop();
  }
}
