// The mixed-model run's submitter, for the farm-routing benchmark: a process of its own, as a gateway is, so the
// submissions' work does not run on the event loop the benchmark's workers share. argv: Redis URL, prefix. Reads the
// jobs' params as one JSON line on stdin, submits them one after another, then prints one JSON line per job: its id
// and when its submission was answered, in ms of the system's monotonic clock (process.hrtime), which every process
// shares. Prints `ready` first, once it can submit.
import { createInterface } from 'node:readline';
import type { GenerationParams } from '@farm/core';
import { FarmQueue } from '@farm/queue';
import { monotonicMs as clock } from './monotonic';

const [redisUrl, prefix] = process.argv.slice(2);
const queue = new FarmQueue({ redisUrl, prefix, commandTimeoutMs: 30_000 });
await queue.redis.ping();
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
const mix = JSON.parse((await lines[Symbol.asyncIterator]().next()).value as string) as GenerationParams[];
const submitted: { id: string; at: number }[] = [];
for (const params of mix) {
  const s = await queue.submit(params, { owner: 'bench' });
  submitted.push({ id: s.id, at: clock() });
}
process.stdout.write(submitted.map((s) => JSON.stringify(s)).join('\n') + '\n');
lines.close();
await queue.close();
