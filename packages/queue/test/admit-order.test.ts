// A submission writes the admit script and BullMQ's add together, without a pipeline: this checks, on the commands
// Redis actually ran (MONITOR), that the admit runs before the add, on the first submission of a connection (the
// scripts go out as EVAL) and on later ones (EVALSHA). A worker must never find a job whose envelope does not exist.
import { test, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis, txt2imgParams } from '@farm/testkit';
import { FarmQueue } from '../src/index';
import { ADMIT } from '../src/lifecycle-scripts';

const redis = await startRedis();
afterAll(() => redis.stop());

test("the admit script runs before BullMQ's add, submission after submission", async () => {
  const adminSha = createHash('sha1').update(ADMIT).digest('hex');
  const monitor = await new Redis(redis.url).monitor();
  const ran: string[][] = [];
  let heard: (() => void) | null = null;
  monitor.on('monitor', (_time: string, args: string[]) => {
    ran.push(args);
    heard?.();
  });
  const queue = new FarmQueue({ redisUrl: redis.url, prefix: `ao${randomUUID().slice(0, 6)}` });
  try {
    for (let n = 0; n < 3; n++) {
      const id = randomUUID();
      await queue.submit(txt2imgParams(), { owner: 'alice', id });
      // a script's call as MONITOR shows it: [eval(sha), script or sha, key count, keys..., args...]; the admit's first
      // key is the job's envelope, and it is sent as its text once per connection, then by its SHA-1
      const script = (a: string[]) => /^eval(sha)?$/i.test(a[0]);
      const admitOf = (a: string[]) => script(a) && a[3] === queue.keys.job(id) && (a[0].toLowerCase() === 'eval' || a[1] === adminSha);
      // the add is the other script that carries the job's id (inside its data)
      const addOf = (a: string[]) => script(a) && a[3] !== queue.keys.job(id) && a.some((x) => x.includes(id));
      // MONITOR reports a command as it runs, on its own connection: wait until both have been reported
      while (!(ran.some(admitOf) && ran.some(addOf))) await new Promise<void>((r) => (heard = r));
      assert.ok(ran.findIndex(admitOf) < ran.findIndex(addOf), `submission ${n + 1}: the admit ran first`);
    }
  } finally {
    monitor.disconnect();
    await queue.close();
  }
});
