// GET /v1/jobs/:id/events: Server-Sent Events of one job. Sends the current envelope at once, then each change
// (queue.subscribe is Redis pub/sub, so it works whichever gateway the client reached), heartbeat comments, and ends
// after a terminal state. A closing gateway ends open streams with a short `retry:` so EventSource clients reconnect
// (to another gateway) at once.
import { Router } from 'express';
import { isTerminal, present } from '@farm/core';
import type { FarmQueue, JobEnvelope } from '@farm/queue';
import { asyncRoute } from '../http-errors';
import type { ShutdownState } from '../shutdown';
import { ownJob } from './jobs';

const HEARTBEAT_MS = 15_000;

export function eventRoutes(deps: { queue: FarmQueue; shutdown: ShutdownState }): Router {
  const r = Router();
  r.get('/v1/jobs/:id/events', asyncRoute(async (req, res) => {
    const id = String(req.params.id);
    await ownJob(deps.queue, req, id);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let ended = false;
    let lastSent = '';
    const send = (e: JobEnvelope) => {
      if (ended) return;
      const data = JSON.stringify(present(e));
      if (data === lastSent) return;
      lastSent = data;
      res.write(`event: status\ndata: ${data}\n\n`);
      if (isTerminal(e.status)) finish();
    };
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    let unsubscribe: (() => Promise<void>) | null = null;
    let unsubscribePreviews: (() => Promise<void>) | null = null;
    const finish = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      forgetStream();
      void unsubscribe?.();
      void unsubscribePreviews?.();
      res.end();
    };
    const forgetStream = deps.shutdown.onClose(() => { if (!ended) res.write('retry: 500\n\n'); finish(); });
    req.on('close', finish);
    // live previews (jobs with live_preview_every): `event: preview`, data {step, image: base64 PNG}
    unsubscribePreviews = await deps.queue.subscribePreviews(id, (p) => { if (!ended) res.write(`event: preview\ndata: ${JSON.stringify(p)}\n\n`); });
    unsubscribe = await deps.queue.subscribe(id, send);
    const current = await deps.queue.get(id);
    if (current) send(current);
  }));

  return r;
}
