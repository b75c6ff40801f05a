// The routing policy, pure: which model queues a worker takes from and when it must look again. Cases by hand.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { planRoute, batchFromHead, warmArrivals, surveyAgain, MAX_EMPTY_TAKES, type ModelQueueState, type WakeEvent } from '../src/routing';

const policy = { switchAfterMs: 500, starveAfterMs: 5000 };
const q = (model: string, o: Partial<ModelQueueState> = {}): ModelQueueState => ({
  model,
  ready: 1,
  oldestMs: 1000,
  nextDueMs: null,
  warmElsewhere: 0,
  warmBefore: 0,
  ...o,
});

test('the warm model first; a model another worker holds warm is left to it while this one has work', () => {
  const plan = planRoute([q('a'), q('b', { warmElsewhere: 1, oldestMs: 0 })], 'a', 10_000, policy);
  assert.deepEqual(plan, { order: ['a'], wakeInMs: null });
});

test('idle: a model nobody holds is taken at once; one held elsewhere only after switchAfterMs, with the wake-up for it', () => {
  assert.deepEqual(planRoute([q('a', { ready: 0, oldestMs: null }), q('b', { oldestMs: 9_900 })], 'a', 10_000, policy), { order: ['b'], wakeInMs: null });
  // held by another worker, waited 100 ms of 500: not yet, look again in 400 ms
  assert.deepEqual(planRoute([q('b', { oldestMs: 9_900, warmElsewhere: 1 })], 'a', 10_000, policy), { order: [], wakeInMs: 400 });
  assert.deepEqual(planRoute([q('b', { oldestMs: 9_500, warmElsewhere: 1 })], 'a', 10_000, policy), { order: ['b'], wakeInMs: null });
});

test('idle with several eligible: models nobody holds first, then the longest wait', () => {
  const plan = planRoute([q('held', { oldestMs: 0, warmElsewhere: 2 }), q('young', { oldestMs: 9_000 }), q('old', { oldestMs: 5_000 })], null, 10_000, policy);
  assert.deepEqual(plan.order, ['old', 'young', 'held']);
});

test("busy with warm work: a model nobody holds waits starveAfterMs, unless another worker ranked first holds this one's model", () => {
  assert.deepEqual(planRoute([q('a'), q('b', { oldestMs: 8_000 })], 'a', 10_000, policy), { order: ['a'], wakeInMs: 3_000 });
  assert.deepEqual(planRoute([q('a'), q('b', { oldestMs: 4_000 })], 'a', 10_000, policy, 0).order, ['b', 'a'], 'starving: it goes first');
  // on its model for only 1 s: the starving job waits until the worker has held it 5 s (4 s more)
  assert.deepEqual(planRoute([q('a'), q('b', { oldestMs: 4_000 })], 'a', 10_000, policy, 9_000), { order: ['a'], wakeInMs: 4_000 });
  assert.deepEqual(
    planRoute([q('a', { warmElsewhere: 1, warmBefore: 1 }), q('b', { oldestMs: 9_999 })], 'a', 10_000, policy).order,
    ['b', 'a'],
    'redundant: moves on at once',
  );
  assert.deepEqual(
    planRoute([q('a', { warmElsewhere: 1, warmBefore: 0 }), q('b', { oldestMs: 9_999 })], 'a', 10_000, policy).order,
    ['a'],
    'ranked first: stays',
  );
});

test('a delayed retry falling due sets the wake-up', () => {
  assert.deepEqual(planRoute([q('a', { ready: 0, oldestMs: null, nextDueMs: 10_250 })], 'a', 10_000, policy), { order: [], wakeInMs: 250 });
});

test('a batch is the head job and the ones right behind it with its key, up to maxBatch', () => {
  const head = [
    { id: '1', batchKey: 'k' },
    { id: '2', batchKey: 'k' },
    { id: '3', batchKey: 'other' },
    { id: '4', batchKey: 'k' },
  ];
  assert.deepEqual(batchFromHead(head, 4), ['1', '2']);
  assert.deepEqual(batchFromHead(head, 1), ['1']);
  assert.deepEqual(batchFromHead([], 4), []);
});

test('woken by new jobs of its warm model only, a worker takes them at once (a batch from the first key); anything else: survey', () => {
  const added = (model: string, jobId: string, name: string): WakeEvent[] => [
    { model, event: 'added', jobId, name },
    { model, event: 'waiting', jobId },
  ];
  // two jobs of one batch key, then one of another: the first two
  assert.equal(warmArrivals([...added('a', '1', 'k'), ...added('a', '2', 'k'), ...added('a', '3', 'x')], 'a', 4), 2);
  assert.equal(warmArrivals([...added('a', '1', 'k'), ...added('a', '2', 'k'), ...added('a', '3', 'k')], 'a', 2), 2, 'at most maxBatch');
  assert.equal(warmArrivals(added('b', '1', 'k'), 'a', 4), 0, "another model's job: the survey decides who takes it");
  assert.equal(warmArrivals([...added('a', '1', 'k'), ...added('b', '2', 'k')], 'a', 4), 0, 'a mix: survey');
  assert.equal(warmArrivals([{ model: 'a', event: 'waiting', jobId: '9' }], 'a', 4), 0, 'back to waiting (a retry, a recovery): survey');
  assert.equal(warmArrivals([{ model: 'a', event: 'delayed', jobId: '9' }], 'a', 4), 0, 'a delayed job: survey');
  assert.equal(warmArrivals(added('a', '1', 'k'), null, 4), 0, 'no warm model: survey');
  assert.equal(warmArrivals([], 'a', 4), 0, 'woken by the clock: survey');
});

test('a survey whose takes all came back empty (others took the jobs) is followed by another at once, a few in a row at most; one that planned nothing sleeps', () => {
  // the case seen in the farm benchmark: warm work shown, so another model's long-waiting job was left to its warm
  // workers; the warm job then went to another worker. On the stale snapshot the worker slept a second while idle.
  const stale = [q('a', { ready: 1, oldestMs: 0 }), q('b', { ready: 15, oldestMs: 0, warmElsewhere: 2, warmBefore: 2 })];
  assert.deepEqual(planRoute(stale, 'a', 3000, policy).order, ['a'], 'b is left to the workers warm on it');
  assert.equal(surveyAgain(1, 1), true);
  const fresh = [q('a', { ready: 0, oldestMs: null }), stale[1]];
  assert.deepEqual(planRoute(fresh, 'a', 3000, policy).order, ['b'], "looked at again, b is this idle worker's to take");
  assert.equal(surveyAgain(1, MAX_EMPTY_TAKES), true);
  assert.equal(surveyAgain(1, MAX_EMPTY_TAKES + 1), false, 'a head that cannot be taken does not make it spin');
  assert.equal(surveyAgain(0, 1), false, 'nothing planned: nothing was lost, it sleeps until an event');
});
