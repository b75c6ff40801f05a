// A bounded soak: one gateway and three workers take a steady stream of tiny jobs (every sampler, two sizes, 2-6
// steps, a few canceled) for SOAK_SECONDS (default 45). Every job must end as asked, and the resident memory of each
// process must stay flat once warmed up. The memory samples are printed, so a failure says which process grew when.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { startCluster, rssBytes, type Cluster } from './helpers/cluster';
import { client, waitFor } from './helpers/farm';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 45);
/** jobs kept submitted and unfinished at any time: enough to keep three workers busy, few enough to keep the queue short */
const WINDOW = 9;
/** every CANCEL_EVERY-th job is canceled right after it is submitted */
const CANCEL_EVERY = 7;
/** allowed growth from the end of the warm-up (the first third) to the end of the run, per process */
const allowed = (warm: number) => warm * 0.25 + 40 * 1024 * 1024;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ gateways: 1, workers: 3, storage: 'fs' });
});
afterAll(async () => {
  await cluster?.stop();
});

const MB = (b: number) => (b / 1024 / 1024).toFixed(0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test(`soak: ${SOAK_SECONDS} s of tiny jobs; every job ends as asked, memory stays flat`, async () => {
  const gateway = cluster.gateways[0];
  const alice = client(gateway.url, 'alice');
  const samplersRes = await alice.get('/sdapi/v1/samplers');
  assert.equal(samplersRes.status, 200);
  const samplers: string[] = samplersRes.body.map((s: { name: string }) => s.name);
  assert.ok(samplers.length >= 2, JSON.stringify(samplers));

  const procs = [{ name: 'gateway', pid: gateway.child.pid! }, ...cluster.workers.map((w, i) => ({ name: `worker${i + 1}`, pid: w.child.pid! }))];
  const samples = new Map<string, (number | null)[]>(procs.map((p) => [p.name, []]));
  const sample = () => {
    for (const p of procs) samples.get(p.name)!.push(rssBytes(p.pid));
  };
  sample();
  const sampler = setInterval(sample, 1000);

  const jobs: { id: string; cancel: boolean; sampler: string; submittedAt: number }[] = [];
  const unfinished = new Set<string>();
  const ends = new Map<string, any>();
  const start = Date.now();
  const end = start + SOAK_SECONDS * 1000;
  const warmupEnd = start + (SOAK_SECONDS * 1000) / 3;
  try {
    const poll = async () => {
      await Promise.all(
        [...unfinished].map(async (id) => {
          const r = await alice.get(`/v1/jobs/${id}`);
          assert.equal(r.status, 200);
          if (['succeeded', 'failed', 'canceled'].includes(r.body.status)) {
            unfinished.delete(id);
            ends.set(id, r.body);
          }
        }),
      );
    };
    // until the deadline, and at least until every sampler has had two jobs
    for (let n = 0; Date.now() < end || n < samplers.length * 2;) {
      while (unfinished.size < WINDOW) {
        const size = n % 2 === 0 ? 64 : 96;
        const job = {
          prompt: `soak ${n}, a quiet harbour`,
          width: size,
          height: n % 3 === 0 ? 96 : 64,
          steps: 2 + (n % 5),
          seed: 10_000 + n,
          sampler: samplers[n % samplers.length],
        };
        const r = await alice.post('/v1/jobs', job);
        assert.equal(r.status, 202, JSON.stringify(r.body));
        const cancel = n % CANCEL_EVERY === CANCEL_EVERY - 1;
        jobs.push({ id: r.body.id, cancel, sampler: job.sampler, submittedAt: Date.now() });
        unfinished.add(r.body.id);
        if (cancel) assert.ok([200, 202].includes((await alice.del(`/v1/jobs/${r.body.id}`)).status));
        n++;
      }
      await poll();
      // pace the polling (not a synchronisation: the loop goes on until the deadline whatever happened)
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(
      'every job to end',
      async () => {
        await poll();
        return unfinished.size === 0;
      },
      120_000,
    );
  } finally {
    clearInterval(sampler);
    sample();
  }

  // every job ended as asked
  const failed = jobs.filter((j) => ends.get(j.id).status === 'failed').map((j) => `${j.id} (${j.sampler}): ${ends.get(j.id).error}`);
  assert.deepEqual(failed, [], 'no job failed');
  for (const j of jobs) {
    const e = ends.get(j.id);
    if (j.cancel) assert.ok(['canceled', 'succeeded'].includes(e.status), `canceled job ${j.id} ended ${e.status}`);
    else {
      assert.equal(e.status, 'succeeded', `job ${j.id} (${j.sampler})`);
      assert.equal(e.attempts, 1, `job ${j.id} ran once`);
      assert.equal(e.output.images.length, 1);
    }
  }
  const canceled = jobs.filter((j) => ends.get(j.id).status === 'canceled');
  assert.ok(canceled.length >= 1, 'some of the canceled jobs ended canceled');
  assert.ok(
    canceled.every((j) => j.cancel),
    'only the jobs asked to cancel ended canceled',
  );
  const samplersUsed = new Set(jobs.filter((j) => ends.get(j.id).status === 'succeeded').map((j) => j.sampler));
  const doneAfterWarmup = jobs.filter((j) => Date.parse(ends.get(j.id).completed_at) > warmupEnd).length;
  console.log(
    `${jobs.length} jobs in ${((Date.now() - start) / 1000).toFixed(0)} s (${canceled.length} canceled, ${doneAfterWarmup} ended after the warm-up); samplers that succeeded: ${[...samplersUsed].join(', ')}`,
  );
  assert.deepEqual([...samplersUsed].sort(), [...samplers].sort(), 'every sampler rendered');
  assert.ok(doneAfterWarmup > 0, 'the farm was under load after the warm-up');

  // memory is flat: the RSS at the end of the run against the RSS at the end of the warm-up (medians of 3 samples)
  const growth: string[] = [];
  for (const p of procs) {
    const xs = samples.get(p.name)!;
    console.log(`${p.name} (pid ${p.pid}) RSS MB each second: ${xs.map((x) => (x === null ? 'gone' : MB(x))).join(' ')}`);
    assert.ok(
      xs.every((x) => x !== null),
      `${p.name} stayed up`,
    );
    const rss = xs as number[];
    const w = Math.max(1, Math.floor(rss.length / 3));
    const warm = median(rss.slice(w - 1, w + 2));
    const last = median(rss.slice(-3));
    console.log(`${p.name}: ${MB(warm)} MB after the warm-up, ${MB(last)} MB at the end (allowed up to ${MB(warm + allowed(warm))} MB)`);
    if (last - warm >= allowed(warm)) growth.push(`${p.name} grew from ${MB(warm)} MB to ${MB(last)} MB`);
  }
  assert.deepEqual(growth, [], 'resident memory stayed flat after the warm-up');
});
