// One job's Server-Sent Events on an HTTP response: `event: status` with each new envelope (Redis pub/sub, so it
// works whichever gateway the client reached), `event: preview` with live previews, heartbeat comments, the end after
// a terminal state. A closing gateway ends open streams with a short `retry:` so EventSource clients reconnect (to
// another gateway) at once. The subscription is opened before anything can change: by the caller of `subscribeJob`,
// before it submits (submit-and-stream) or reads the current envelope (GET .../events).
import type { Request, Response } from 'express';
import { isTerminal, present } from '@farm/core';
import type { FarmQueue, JobEnvelope } from '@farm/queue';
import type { ShutdownState } from '../shutdown';

const HEARTBEAT_MS = 15_000;

export interface JobStream {
  /** starts the response (200, text/event-stream) with `first`, then the changes heard since subscribing */
  open(first: JobEnvelope | null): void;
  /** stops listening without ever opening (an error is answered instead) */
  abandon(): Promise<void>;
}

export interface StreamOptions {
  /** listen for live previews too (default true); a submit-and-stream call whose job asks for none skips it */
  previews?: boolean;
}

export async function subscribeJob(
  deps: { queue: FarmQueue; shutdown: ShutdownState },
  req: Request,
  res: Response,
  id: string,
  options: StreamOptions = {},
): Promise<JobStream> {
  let opened = false;
  let ended = false;
  let lastSent = '';
  const early: JobEnvelope[] = [];
  let heartbeat: NodeJS.Timeout | null = null;
  let forgetStream: (() => void) | null = null;
  const unsubscribe: (() => Promise<void>)[] = [];
  /** `last`: the final event, sent with the end of the response (one write) */
  const finish = (last?: string) => {
    if (ended) return;
    ended = true;
    if (heartbeat) clearInterval(heartbeat);
    forgetStream?.();
    for (const u of unsubscribe) void u();
    if (opened) res.end(last);
  };
  const send = (e: JobEnvelope) => {
    if (ended) return;
    if (!opened) {
      early.push(e);
      return;
    }
    const data = JSON.stringify(present(e));
    if (data === lastSent) return;
    lastSent = data;
    const event = `event: status\ndata: ${data}\n\n`;
    if (isTerminal(e.status)) finish(event);
    else res.write(event);
  };
  // live previews (jobs with live_preview_every): `event: preview`, data {step, image: base64 PNG}. Previews need a
  // subscription round trip of their own; job changes come through the queue's standing pattern subscription.
  const [previews, changes] = await Promise.all([
    options.previews === false
      ? null
      : deps.queue.subscribePreviews(id, (p) => {
          if (opened && !ended) res.write(`event: preview\ndata: ${JSON.stringify(p)}\n\n`);
        }),
    deps.queue.subscribe(id, send),
  ]);
  unsubscribe.push(changes);
  if (previews) unsubscribe.push(previews);
  req.on('close', () => finish());
  return {
    open(first) {
      if (ended) return;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      opened = true;
      heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      forgetStream = deps.shutdown.onClose(() => {
        finish('retry: 500\n\n');
      });
      // what was heard before the response opened is newer than `first`
      for (const e of [...(first ? [first] : []), ...early.splice(0)]) send(e);
    },
    async abandon() {
      ended = true;
      await Promise.all(unsubscribe.map((u) => u()));
    },
  };
}
