// One round trip that tells a worker what its model queues hold: per model, the jobs ready to run, when the oldest
// was submitted, when the next delayed one falls due, how many other live workers hold the model warm, the next
// jobs at the head (id, batch key = BullMQ job name, envelope status), and the id of the queue's last BullMQ event
// (what the worker's wake-up reader reads on from: the survey is a snapshot, every later change comes as an event).
// The routing policy (./routing) decides from this; the head tells which jobs form the next batch and which are
// already finished (a retried attempt whose result was written is completed, not run again).
import type { Redis } from 'ioredis';
import type { FarmKeys } from './keys';
import type { ModelQueueState } from './routing';

/**
 * KEYS: per model (wait, prioritized, delayed, warm set, events stream; live warm workers are few, so listing them is
 * cheap). ARGV: worker id, live-since ms, now ms, head length,
 * envelope key prefix, then per model the BullMQ job key prefix. BullMQ hands out the wait list from its right end,
 * then prioritized jobs by score; a delayed job's score is its due time x 0x1000 (BullMQ's getDelayedScore).
 */
const SURVEY = `
local n = tonumber(ARGV[4])
local now = tonumber(ARGV[3])
local out = {}
for m = 0, #KEYS / 5 - 1 do
  local wait, prio, delayed, warm, events = KEYS[m * 5 + 1], KEYS[m * 5 + 2], KEYS[m * 5 + 3], KEYS[m * 5 + 4], KEYS[m * 5 + 5]
  local jobPrefix = ARGV[6 + m]
  local ids = redis.call('LRANGE', wait, -n, -1)
  local head = {}
  for i = #ids, 1, -1 do head[#head + 1] = ids[i] end
  if #head < n then
    for _, id in ipairs(redis.call('ZRANGE', prio, 0, n - #head - 1)) do head[#head + 1] = id end
  end
  local due = redis.call('ZCOUNT', delayed, 0, (now + 1) * 4096 - 1)
  local ready = redis.call('LLEN', wait) + redis.call('ZCARD', prio) + due
  local oldest = -1
  local function older(id)
    if id then
      local ts = tonumber(redis.call('HGET', jobPrefix .. id, 'timestamp'))
      if ts and (oldest < 0 or ts < oldest) then oldest = ts end
    end
  end
  older(ids[#ids])
  older(redis.call('ZRANGE', prio, 0, 0)[1])
  if due > 0 then older(redis.call('ZRANGE', delayed, 0, 0)[1]) end
  local nextDue = -1
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] then nextDue = math.floor(tonumber(first[2]) / 4096) end
  local warmElsewhere, warmBefore = 0, 0
  for _, w in ipairs(redis.call('ZRANGEBYSCORE', warm, ARGV[2], '+inf')) do
    if w ~= ARGV[1] then
      warmElsewhere = warmElsewhere + 1
      if w < ARGV[1] then warmBefore = warmBefore + 1 end
    end
  end
  local flat = {}
  for _, id in ipairs(head) do
    flat[#flat + 1] = id
    flat[#flat + 1] = redis.call('HGET', jobPrefix .. id, 'name') or ''
    flat[#flat + 1] = redis.call('HGET', ARGV[5] .. id, 'status') or ''
  end
  local last = redis.call('XREVRANGE', events, '+', '-', 'COUNT', 1)[1]
  out[#out + 1] = {ready, oldest, nextDue, warmElsewhere, warmBefore, flat, last and last[1] or '0-0'}
end
return out`;

export interface HeadJob {
  id: string;
  batchKey: string;
  /** envelope status (JSON text, e.g. '"queued"'), '' when none */ status: string;
}
export interface QueueSurvey extends ModelQueueState {
  head: HeadJob[];
  /** the id of the queue's last BullMQ event when the survey ran ('0-0': none yet) */
  lastEventId: string;
}

export class Survey {
  constructor(
    private readonly redis: Redis,
    private readonly keys: FarmKeys,
  ) {
    if (!('farm_survey' in redis)) redis.defineCommand('farm_survey', { lua: SURVEY });
  }

  async read(
    workerId: string,
    queues: { model: string; queue: { keys: Record<string, string>; toKey(type: string): string } }[],
    opts: { now: number; liveSinceMs: number; headLength: number },
  ): Promise<QueueSurvey[]> {
    if (queues.length === 0) return [];
    const keys = queues.flatMap(({ model, queue }) => [queue.keys.wait, queue.keys.prioritized, queue.keys.delayed, this.keys.warm(model), queue.keys.events]);
    const args = [workerId, opts.liveSinceMs, opts.now, opts.headLength, this.keys.jobPrefix, ...queues.map(({ queue }) => queue.toKey(''))];
    const run = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).farm_survey;
    const reply = (await run.call(this.redis, keys.length, ...keys, ...args)) as [number, number, number, number, number, string[], string][];
    return reply.map(([ready, oldest, nextDue, warmElsewhere, warmBefore, flat, lastEventId], i) => {
      const head: HeadJob[] = [];
      for (let j = 0; j < flat.length; j += 3) head.push({ id: flat[j], batchKey: flat[j + 1], status: flat[j + 2] });
      return {
        model: queues[i].model,
        ready,
        oldestMs: oldest < 0 ? null : oldest,
        nextDueMs: nextDue < 0 ? null : nextDue,
        warmElsewhere,
        warmBefore,
        head,
        lastEventId,
      };
    });
  }
}
