// One Lua script per transition of a job's life cycle, so that each writes its envelope fields, keeps the owner's
// indexes and publishes the new envelope (SSE) as one atomic step. A terminal envelope is never changed: every
// transition answers {'terminal', envelope} instead. Every script returns {outcome, envelope JSON or extra}.

import { GCRA_LIB } from './rate-limiter';

// Shared helpers. `terminal` mirrors isTerminal() of @farm/core; statuses are stored as JSON strings.
const LIB = `
local function envelope(key)
  local flat = redis.call('HGETALL', key)
  local parts = {}
  for i = 1, #flat, 2 do parts[#parts + 1] = '"' .. flat[i] .. '":' .. flat[i + 1] end
  return '{' .. table.concat(parts, ',') .. '}'
end
local function terminal(status)
  return status == '"succeeded"' or status == '"failed"' or status == '"canceled"'
end
local function publish(channel, key)
  local e = envelope(key)
  redis.call('PUBLISH', channel, e)
  return e
end
`;

/**
 * admit. KEYS: job, owner index, unfinished set, idempotency key, set of models with a render queue, BullMQ's key
 * of the job (see below), then the caller's rate-limit budget keys (ARGV[9] of them), then (wait, prioritized,
 * delayed) of each model's BullMQ queue, the job's own first. ARGV: id, created ms, per-owner cap (0: none),
 * retention s, queue cap (0: none), idempotency ttl s, '1' if an idempotency key is used, the job's model, the
 * number of budget keys, the budgets' span ms, one emission interval ms per budget, then the envelope's field/value
 * pairs. The budgets are spent first (GCRA, all or nothing), so a submission costs the limiter no round trip of its
 * own; a refused one changes nothing but leaves a short-lived hash at BullMQ's key of the job, so that BullMQ's add,
 * written behind this script, finds the id taken and adds nothing (BullMQ never adds a job whose id exists).
 * Claiming the idempotency key and creating the envelope are one step, so a concurrent duplicate finds the winner's
 * envelope already there. Answers the own queue's wait and prioritized lengths (the job's place: BullMQ takes the
 * wait list first).
 */
export const ADMIT = `${GCRA_LIB}
local nb = tonumber(ARGV[9])
if nb > 0 then
  local budgets, intervals = {}, {}
  for i = 1, nb do
    budgets[i] = KEYS[6 + i]
    intervals[i] = tonumber(ARGV[10 + i])
  end
  local refused, wait = gcra_take(budgets, tonumber(ARGV[10]), intervals)
  if refused > 0 then
    redis.call('HSET', KEYS[6], 'refused', 'rate_limited')
    redis.call('PEXPIRE', KEYS[6], 10000)
    return {'rate_limited', tostring(refused), tostring(wait)}
  end
end
if ARGV[7] == '1' then
  local prior = redis.call('GET', KEYS[4])
  if prior then return {'duplicate', prior} end
end
local depth = 7 + nb
local maxQueued = tonumber(ARGV[5])
if maxQueued > 0 then
  local waiting = 0
  for i = depth, #KEYS, 3 do
    waiting = waiting + redis.call('LLEN', KEYS[i]) + redis.call('ZCARD', KEYS[i + 1]) + redis.call('ZCARD', KEYS[i + 2])
  end
  if waiting >= maxQueued then return {'queue_full', tostring(waiting)} end
end
local cap = tonumber(ARGV[3])
if cap > 0 and redis.call('SCARD', KEYS[3]) >= cap then return {'user_cap', ''} end
redis.call('HSET', KEYS[1], unpack(ARGV, 11 + nb))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[8])
if ARGV[7] == '1' then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[6]) end
return {'admitted', tostring(redis.call('LLEN', KEYS[depth])), tostring(redis.call('ZCARD', KEYS[depth + 1]))}`;

/** withdraw (BullMQ refused the job after admission). KEYS: job, owner index, unfinished, idempotency key. ARGV: id. */
export const WITHDRAW = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
return {'withdrawn', ''}`;

/**
 * start. KEYS: job, cancel flag, unfinished. ARGV: channel, id, now (JSON), then the running field pairs.
 * A job asked to stop before it ran ends canceled here; a terminal one is left as it is.
 */
export const START =
  LIB +
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
if terminal(redis.call('HGET', KEYS[1], 'status')) then return {'terminal', envelope(KEYS[1])} end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('HGET', KEYS[1], 'cancel_requested') == 'true' then
  redis.call('HSET', KEYS[1], 'status', '"canceled"', 'completed_at', ARGV[3], 'progress', 'null')
  redis.call('SREM', KEYS[3], ARGV[2])
  redis.call('DEL', KEYS[2])
  return {'canceled', publish(ARGV[1], KEYS[1])}
end
redis.call('HSET', KEYS[1], 'status', '"running"', unpack(ARGV, 4))
return {'started', publish(ARGV[1], KEYS[1])}`;

/** progress. KEYS: job. ARGV: channel, progress JSON. Only a running job takes progress. */
export const PROGRESS =
  LIB +
  `
if redis.call('HGET', KEYS[1], 'status') ~= '"running"' then return {'ignored', ''} end
redis.call('HSET', KEYS[1], 'progress', ARGV[2])
return {'progressed', publish(ARGV[1], KEYS[1])}`;

/**
 * Builds the script of a transition into a terminal state. KEYS: job, unfinished, cancel flag. ARGV: channel, id, field
 * pairs. Without `announce` it publishes nothing (its caller publishes the event, see SUCCEED).
 */
function toTerminal(status: 'succeeded' | 'failed' | 'canceled', announce = true): string {
  return (
    LIB +
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
if terminal(redis.call('HGET', KEYS[1], 'status')) then return {'terminal', envelope(KEYS[1])} end
redis.call('HSET', KEYS[1], 'status', '"${status}"', unpack(ARGV, 3))
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
return {'${status}', ${announce ? 'publish(ARGV[1], KEYS[1])' : 'envelope(KEYS[1])'}}`
  );
}

/** succeed: as the other terminal transitions, but its event is published by ANNOUNCE, written right behind it (JobLifecycle.succeed) */
export const SUCCEED = toTerminal('succeeded', false);
/** announce. KEYS: job. ARGV: channel. Publishes the envelope as it stands. */
export const ANNOUNCE =
  LIB +
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
return {'announced', publish(ARGV[1], KEYS[1])}`;
export const FAIL = toTerminal('failed');
export const CANCEL = toTerminal('canceled');

/** retry (an attempt failed, another follows). KEYS: job. ARGV: channel, error JSON, attempts made. Back to queued. */
export const RETRY =
  LIB +
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
if terminal(redis.call('HGET', KEYS[1], 'status')) then return {'terminal', envelope(KEYS[1])} end
redis.call('HSET', KEYS[1], 'status', '"queued"', 'error', ARGV[2], 'progress', 'null', 'attempts', ARGV[3])
return {'retrying', publish(ARGV[1], KEYS[1])}`;

/** request_cancel (a running job). KEYS: job, cancel flag. ARGV: channel, cancel channel, id, flag ttl s. */
export const REQUEST_CANCEL =
  LIB +
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
if terminal(redis.call('HGET', KEYS[1], 'status')) then return {'terminal', envelope(KEYS[1])} end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
redis.call('HSET', KEYS[1], 'cancel_requested', 'true')
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {'cancel_requested', publish(ARGV[1], KEYS[1])}`;

/** record_delivery (a webhook attempt; allowed on terminal jobs). KEYS: job. ARGV: channel, delivery JSON. */
export const RECORD_DELIVERY =
  LIB +
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
local list = redis.call('HGET', KEYS[1], 'deliveries')
if list == false or list == '[]' then list = '[' .. ARGV[2] .. ']' else list = string.sub(list, 1, -2) .. ',' .. ARGV[2] .. ']' end
redis.call('HSET', KEYS[1], 'deliveries', list)
return {'recorded', publish(ARGV[1], KEYS[1])}`;
