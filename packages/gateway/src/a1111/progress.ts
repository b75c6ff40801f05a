// GET /sdapi/v1/progress, POST /sdapi/v1/interrupt and /skip over the caller's own A1111 calls (the jobs its
// txt2img/img2img requests wait on, kept per user in Redis, so any gateway answers).
import { Router } from 'express';
import type { JobEnvelope } from '@farm/queue';
import { asyncRoute } from '../http-errors';
import { jobTimestamp } from './info';
import type { A1111Deps } from './index';

/** A1111's shared.state.dict() and /progress numbers for the caller's calls. */
export function progressOf(
  jobs: JobEnvelope[],
  now: number,
  live: { interrupted: boolean; currentImage: string | null } = { interrupted: false, currentImage: null },
) {
  const running = jobs.find((j) => j.status === 'running') ?? null;
  const current = running ?? jobs.find((j) => j.status === 'queued') ?? null;
  const jobCount = jobs.reduce((n, j) => n + (j.input.n_iter ?? 1), 0);
  const step = running?.progress?.step ?? 0;
  const steps = running?.progress?.steps ?? 0;
  const state = {
    skipped: false,
    interrupted: live.interrupted || (current?.cancel_requested ?? false),
    stopping_generation: false,
    job: current
      ? current.input.kind === 'extras'
        ? 'extras'
        : current.input.n_iter > 1
          ? `Batch 1 out of ${current.input.n_iter}`
          : 'scripts_' + current.input.kind
      : '',
    job_count: jobCount,
    job_timestamp: current ? jobTimestamp(new Date(current.started_at ?? current.created_at)) : '0',
    job_no: 0,
    sampling_step: step,
    sampling_steps: steps,
  };
  if (jobCount === 0) return { progress: 0, eta_relative: 0, state, current_image: null, textinfo: null };
  let progress = 0.01;
  if (steps > 0) progress += (1 / jobCount) * (step / steps) * (current?.input.n_iter ?? 1);
  const started = running?.started_at ? Date.parse(running.started_at) : now;
  const elapsed = Math.max(0, (now - started) / 1000);
  const eta = running?.progress?.eta_seconds ?? elapsed / progress - elapsed;
  return {
    progress: Math.min(progress, 1),
    eta_relative: eta,
    state,
    current_image: live.currentImage,
    textinfo: running ? null : 'Waiting...',
  };
}

export function progressRoutes(deps: A1111Deps): Router {
  const r = Router();
  const callsOf = async (user: string) => {
    const ids = await deps.queue.a1111.calls(user);
    return (await Promise.all(ids.map((id) => deps.queue.get(id)))).filter(
      (j): j is JobEnvelope => j !== null && (j.status === 'queued' || j.status === 'running'),
    );
  };

  r.get(
    '/sdapi/v1/progress',
    asyncRoute(async (req, res) => {
      const jobs = await callsOf(req.user!.id);
      const running = jobs.find((j) => j.status === 'running');
      const skipImage = /^(true|1|yes)$/i.test(String(req.query.skip_current_image ?? ''));
      const [interrupted, preview] = running
        ? await Promise.all([deps.queue.isInterrupted(running.id), skipImage ? null : deps.queue.previews.get(running.id)])
        : [false, null];
      res.json(progressOf(jobs, Date.now(), { interrupted, currentImage: preview?.image ?? null }));
    }),
  );

  // As in A1111, interrupt and skip act on what is running now; calls still waiting run when their turn comes.
  r.post(
    '/sdapi/v1/interrupt',
    asyncRoute(async (req, res) => {
      await Promise.all((await callsOf(req.user!.id)).filter((j) => j.status === 'running').map((j) => deps.queue.interrupt(j.id)));
      res.json({});
    }),
  );
  r.post(
    '/sdapi/v1/skip',
    asyncRoute(async (req, res) => {
      await Promise.all((await callsOf(req.user!.id)).filter((j) => j.status === 'running').map((j) => deps.queue.skip(j.id)));
      res.json(null);
    }),
  );
  return r;
}
