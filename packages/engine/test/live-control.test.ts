// Interrupt, skip and previews between steps, on hand-made rows (no model): which rows end, which are dropped.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { GenerationParams } from '@farm/core';
import { cheapApproximation, liveControl, previewGrid } from '../src/pipeline/live-control';
import type { Row } from '../src/pipeline/denoise';

test("cheap approximation: A1111's 4x3 coefficients, then (v + 1) / 2 to bytes", () => {
  // one pixel, latent channels (1, 0, 0, 0) -> RGB (0.298, 0.207, 0.208) -> bytes floor((v * 0.5 + 0.5) * 255)
  assert.deepEqual([...cheapApproximation(Float32Array.from([1, 0, 0, 0]), 1, 1)], [165, 153, 154]);
  // (0, 0, 0, 1) -> (-0.184, -0.271, -0.473)
  assert.deepEqual([...cheapApproximation(Float32Array.from([0, 0, 0, 1]), 1, 1)], [104, 92, 67]);
  // far out of range clamps
  assert.deepEqual([...cheapApproximation(Float32Array.from([100, 100, 100, 0]), 1, 1)], [255, 255, 255]);
  const grid = previewGrid([new Float32Array(4 * 4), new Float32Array(4 * 4), new Float32Array(4 * 4)], 2, 2);
  assert.deepEqual([grid.width, grid.height], [4, 4], 'three tiles: two rows of two');
});

const row = (itemId: string, iteration: number): Row => ({ itemId, iteration, run: { done: false, scaleInput: (x: Float32Array) => x } }) as unknown as Row;
const params = (over: Partial<GenerationParams> = {}) => ({ batch_size: 2, n_iter: 2, ...over }) as GenerationParams;

test('skip ends the lowest running iteration once per request; interrupt ends it and drops the later ones', () => {
  const rows = [row('a', 0), row('a', 0), row('a', 1), row('a', 1), row('b', 0)];
  let skips = 0;
  let interrupted = false;
  const control = liveControl(
    [
      { id: 'a', params: params() },
      { id: 'b', params: params({ n_iter: 1 }) },
    ],
    [4, 1, 1],
    { skips: (id) => (id === 'a' ? skips : 0), interrupted: (id) => id === 'a' && interrupted },
  );
  assert.deepEqual(control(rows, 1), { finish: [], drop: [] });
  skips = 1;
  const afterSkip = control(rows, 2);
  assert.deepEqual(afterSkip.finish, rows.slice(0, 2));
  assert.deepEqual(afterSkip.drop, []);
  const live = rows.slice(2);
  assert.deepEqual(control(live, 3), { finish: [], drop: [] }, 'the same skip is not applied twice');
  interrupted = true;
  const more = [row('a', 1), row('a', 2), row('b', 0)];
  const afterInterrupt = control(more, 4);
  assert.deepEqual(afterInterrupt.finish, [more[0]]);
  assert.deepEqual(afterInterrupt.drop, [more[1]]);
});

test('previews every N steps for items that ask, one grid of the current iteration', () => {
  const seen: [string, number, number][] = [];
  const control = liveControl(
    [
      { id: 'a', params: params({ live_preview_every: 2 }) },
      { id: 'b', params: params() },
    ],
    [4, 2, 2],
    {
      onPreview: (id, step, p) => seen.push([id, step, p.width]),
    },
  );
  const rows = [row('a', 0), row('a', 0), row('a', 1), row('b', 0)].map((r) => ({ ...r, x: new Float32Array(16) }));
  for (let step = 1; step <= 4; step++) control(rows, step);
  assert.deepEqual(
    seen,
    [
      ['a', 2, 4],
      ['a', 4, 4],
    ],
    'iteration 0 of a (two tiles side by side); b asked for none',
  );
});
