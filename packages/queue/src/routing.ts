// Which model queues a worker takes from, and in what order: pure policy, no I/O (the survey script reads the state).
// A job goes first to a worker that holds its model warm; a worker switches model only when no warm worker can
// take the job soon. Every worker decides alone from the same Redis state, so no coordinator is needed:
//   - its warm model's queue first (no load, the sessions are there);
//   - a model nobody holds warm: at once when this worker is idle (someone must load it; a lone job starts at once);
//     a worker that still has warm work takes it at once when another worker holds its own model warm too and ranks
//     before it (by id: of two workers warm on one model, exactly one moves on), else once the job has waited
//     `starveAfterMs` and the worker has held its model that long (no job starves, and no ping-pong per batch);
//   - a model another live worker holds warm: only when this worker is idle and the job has waited `switchAfterMs`
//     (its warm workers are all busy; ski rental: set it near the time a model takes to load).
// Among the eligible cold models, those nobody holds warm first, then the longest-waiting job first.

export interface ModelQueueState {
  model: string;
  /** jobs ready to run (waiting, prioritized, delayed ones already due) */
  ready: number;
  /** when the oldest ready job was submitted (ms), null when none */
  oldestMs: number | null;
  /** when the next delayed job (a retry's backoff) falls due (ms), null when none */
  nextDueMs: number | null;
  /** live workers other than this one that hold the model warm */
  warmElsewhere: number;
  /** of those, how many have an id that sorts before this worker's */
  warmBefore: number;
}

export interface RoutePolicy {
  switchAfterMs: number;
  starveAfterMs: number;
}

export interface RoutePlan {
  /** models to try taking from now, in order */
  order: string[];
  /** ms until a cold job becomes eligible or a delayed job falls due (the longest the worker may sleep), null: none */
  wakeInMs: number | null;
}

/** `warmSinceMs`: when this worker took up its warm model. */
export function planRoute(states: ModelQueueState[], warm: string | null, now: number, policy: RoutePolicy, warmSinceMs = 0): RoutePlan {
  const warmState = states.find((s) => s.model === warm);
  const hasWarmWork = (warmState?.ready ?? 0) > 0;
  // another worker holds this worker's model warm and ranks first: this one is free to take a model nobody holds
  const redundant = warmState !== undefined && warmState.warmBefore > 0;
  const eligible: { model: string; age: number; nobodyWarm: boolean }[] = [];
  let wakeInMs: number | null = null;
  const wakeAt = (ms: number) => {
    wakeInMs = wakeInMs === null ? ms : Math.min(wakeInMs, ms);
  };
  for (const s of states) {
    if (s.nextDueMs !== null) wakeAt(Math.max(0, s.nextDueMs - now));
    if (s.model === warm || s.ready === 0 || s.oldestMs === null) continue;
    const age = now - s.oldestMs;
    const nobodyWarm = s.warmElsewhere === 0;
    const threshold = hasWarmWork
      ? nobodyWarm
        ? redundant
          ? 0
          : Math.max(policy.starveAfterMs, policy.starveAfterMs - (now - warmSinceMs) + age)
        : Infinity
      : nobodyWarm
        ? 0
        : policy.switchAfterMs;
    if (age >= threshold) eligible.push({ model: s.model, age, nobodyWarm });
    else if (Number.isFinite(threshold)) wakeAt(threshold - age);
  }
  eligible.sort((a, b) => Number(b.nobodyWarm) - Number(a.nobodyWarm) || b.age - a.age);
  const cold = eligible.map((e) => e.model);
  // with warm work, only a model nobody holds is eligible (redundant, or starving): it goes first, the warm queue after
  return { order: hasWarmWork ? [...cold, warm!] : cold, wakeInMs };
}

/**
 * The jobs to take as one batch from the head of a queue: the head job and those right behind it with its batch
 * key (BullMQ hands out jobs in order, so only consecutive ones can be taken), up to maxBatch. Jobs further back are
 * not taken: a worker never holds a job it is not about to run.
 */
export function batchFromHead(head: { id: string; batchKey: string }[], maxBatch: number): string[] {
  if (head.length === 0) return [];
  const key = head[0].batchKey;
  const out: string[] = [];
  for (const h of head) {
    if (h.batchKey !== key || out.length >= maxBatch) break;
    out.push(h.id);
  }
  return out;
}

/** most surveys in a row whose takes all came back empty before a worker sleeps anyway (see surveyAgain) */
export const MAX_EMPTY_TAKES = 3;

/**
 * Whether a worker surveys again at once after a survey whose plan named queues to take from (`planned`) while
 * every take came back empty: other workers took those jobs since the snapshot. The snapshot is stale, and a sleep
 * on it waits only for new jobs: a job it showed as another worker's to take (a model warm elsewhere, left alone
 * because this worker had warm work) may be this worker's now, and would wait out the sleep (MAX_IDLE_MS) while it
 * sits idle. `emptyInARow` counts such surveys, this one included; past MAX_EMPTY_TAKES it sleeps as after any
 * survey, so a queue whose head cannot be taken does not make it spin.
 */
export function surveyAgain(planned: number, emptyInARow: number): boolean {
  return planned > 0 && emptyInARow <= MAX_EMPTY_TAKES;
}

/** A BullMQ event that woke a sleeping worker (see ModelQueues.waitForWork). */
export interface WakeEvent {
  model: string;
  event: string;
  jobId: string;
  /** the job's batch key, on `added` */
  name?: string;
}

/**
 * How many jobs an idle worker woken by `events` takes from its warm model's queue at once, without a survey (0:
 * survey first). The events are read on from the worker's last survey, after which it found nothing to take and
 * slept; when every one is a new job of its warm model (`added`, then that job's `waiting`), nothing the policy looks
 * at changed but the warm queue, and the policy puts the warm queue first: the worker takes the first arrivals that
 * share the first one's batch key, up to maxBatch, and saves the survey's round trip. Anything else (a retry, a
 * delayed job, another model's job) needs the survey. (A warm worker of another model that went away without an event
 * is noticed at the next survey, as when no job arrives.)
 */
export function warmArrivals(events: WakeEvent[], warm: string | null, maxBatch: number): number {
  if (!warm || events.length === 0) return 0;
  const added = new Set<string>();
  const head: { id: string; batchKey: string }[] = [];
  for (const e of events) {
    if (e.model !== warm) return 0;
    if (e.event === 'added') {
      added.add(e.jobId);
      head.push({ id: e.jobId, batchKey: e.name ?? '' });
    } else if (e.event !== 'waiting' || !added.has(e.jobId)) return 0;
  }
  return batchFromHead(head, maxBatch).length;
}

/**
 * One shared queue, for comparison (the farm before model-aware routing; benchmarks): every model's jobs in one
 * first-come order, whatever this worker holds warm.
 */
export function planShared(states: ModelQueueState[], now: number): RoutePlan {
  const ready = states.filter((s) => s.ready > 0 && s.oldestMs !== null).sort((a, b) => a.oldestMs! - b.oldestMs!);
  const due = states.filter((s) => s.nextDueMs !== null).map((s) => Math.max(0, s.nextDueMs! - now));
  return { order: ready.map((s) => s.model), wakeInMs: due.length ? Math.min(...due) : null };
}
