// The SSE reader against hand-written streams (WHATWG event-stream rules), fed in awkward chunks.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readSse, type SseEvent } from '../src/sse';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  return new ReadableStream({
    start(controller) {
      for (const b of bytes) controller.enqueue(b);
      controller.close();
    },
  });
}

async function collect(chunks: string[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readSse(streamOf(chunks))) out.push(e);
  return out;
}

test('events, multi-line data, comments and ids', async () => {
  const events = await collect([': keep-alive\n\nevent: status\ndata: {"a":1}\n\n', 'data: line one\ndata: line two\nid: 7\n\nretry: 500\n\n']);
  assert.deepEqual(events, [
    { event: 'status', data: '{"a":1}', id: undefined, retry: undefined },
    { event: 'message', data: 'line one\nline two', id: '7', retry: undefined },
  ]);
});

test('CRLF and CR line ends, split anywhere, even inside a CRLF and a multi-byte character', async () => {
  const text = 'event: status\r\ndata: 飞流\r\n\r\nevent: status\rdata: x\r\r';
  const bytes = new TextEncoder().encode(text);
  // every split point of the byte stream gives the same two events
  for (let cut = 1; cut < bytes.length; cut++) {
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, cut));
        c.enqueue(bytes.slice(cut));
        c.close();
      },
    });
    const out: SseEvent[] = [];
    for await (const e of readSse(stream)) out.push(e);
    assert.deepEqual(
      out.map((e) => [e.event, e.data]),
      [
        ['status', '飞流'],
        ['status', 'x'],
      ],
      `cut at ${cut}`,
    );
  }
});

test('a field without a colon and a value without the optional space', async () => {
  const events = await collect(['data\n\ndata:no-space\n\n']);
  assert.deepEqual(
    events.map((e) => e.data),
    ['', 'no-space'],
  );
});
