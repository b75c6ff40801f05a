import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  checkFitsMemory,
  estimatePeakBytes,
  minPromptChunks,
  planBatches,
  promptParts,
  PROCESS_BASE_BYTES,
  type ModelMemoryProfile,
  type RenderShape,
} from '../src/memory';
import { ValidationError } from '../src/errors';
import { defaultWorkerMemoryBytes, loadConfig } from '../src/config';
import { totalmem } from 'node:os';

const MiB = 2 ** 20;
// the tiny model: 32 UNet channels, 2 heads, 16 VAE channels, slices of 2^24 elements
const tiny: ModelMemoryProfile = { weightsBytes: 0, unetChannels: 32, unetHeads: 2, vaeChannels: 16, attentionSlice: 1 << 24 };
const shape = (over: Partial<RenderShape> = {}): RenderShape => ({ width: 512, height: 512, images: 1, rowsPerImage: 2, chunks: 1, vaeImages: 1, ...over });

test('the estimate is the sum of its phases, by hand for 512x512 on the tiny model', () => {
  // UNet: 2 rows x 4096 latent pixels x 32 channels x 96 B = 25,165,824; attention: 2 x 2 x 4096 x 4096 = 67,108,864
  // elements, sliced to 2^24, x 3 tensors x 4 B = 201,326,592. VAE: 262,144 pixels x 16 x 48 B = 201,326,592; its
  // attention 1 x 4096 x 4096 = 2^24 elements x 12 B = 201,326,592.
  const expected = PROCESS_BASE_BYTES + 25_165_824 + 201_326_592 + 201_326_592 + 201_326_592;
  assert.equal(estimatePeakBytes(tiny, shape()), expected);
});

test('full attention grows with the square of the tokens; sliced attention does not', () => {
  const full = { ...tiny, attentionSlice: 0 };
  const small = estimatePeakBytes(full, shape({ width: 256, height: 512 }));
  const large = estimatePeakBytes(full, shape({ width: 512, height: 512 }));
  // 512x512: UNet scores 2 x 2 x 4096^2 x 12 B = 805,306,368; 256x512: 2 x 2 x 2048^2 x 12 B = 201,326,592
  assert.ok(large - small > 805_306_368 - 201_326_592);
  assert.ok(estimatePeakBytes(tiny, shape({ width: 1024, height: 1024 })) < 2048 * MiB);
  assert.ok(estimatePeakBytes(full, shape({ width: 1024, height: 1024 })) > 12 * 1024 * MiB);
});

test('batches are split to fit the budget, VAE calls first shrinking when one image does not fit otherwise', () => {
  const one = estimatePeakBytes(tiny, shape());
  const two = estimatePeakBytes(tiny, shape({ images: 2, vaeImages: 2 }));
  assert.deepEqual(planBatches(tiny, shape({ vaeImages: 4 }), two, 8), { images: 2, vaeImages: 2 });
  assert.deepEqual(planBatches(tiny, shape({ vaeImages: 4 }), one, 8), { images: 1, vaeImages: 1 });
  assert.equal(planBatches(tiny, shape({ vaeImages: 4 }), one - 1, 8), null);
  assert.deepEqual(planBatches(tiny, shape({ vaeImages: 4 }), 1e15, 3), { images: 3, vaeImages: 3 });
});

test('what does not fit is refused naming width and height, or the prompt when its AND parts make the difference', () => {
  const budget = estimatePeakBytes(tiny, shape()) - 1;
  assert.throws(
    () => checkFitsMemory('tiny', tiny, shape(), budget, 'the budget'),
    (e: unknown) => e instanceof ValidationError && e.field === 'width' && /512x512/.test(e.message),
  );
  const fits = estimatePeakBytes(tiny, shape({ width: 256, height: 256 }));
  checkFitsMemory('tiny', tiny, shape({ width: 256, height: 256 }), fits, 'the budget');
  assert.throws(
    () => checkFitsMemory('tiny', tiny, shape({ width: 256, height: 256, rowsPerImage: 200 }), fits, 'the budget'),
    (e: unknown) => e instanceof ValidationError && e.field === 'prompt',
  );
});

test('the gateway counts the fewest chunks a prompt can take', () => {
  assert.equal(minPromptChunks(''), 1);
  assert.equal(minPromptChunks('a cat'), 1);
  assert.equal(minPromptChunks('a BREAK b'), 2);
  // a trailing BREAK ends the chunk without starting another (A1111 appends the last chunk only when it has tokens)
  assert.equal(minPromptChunks('a BREAK'), 1);
  assert.equal(minPromptChunks('BREAK '.repeat(16_000)), 16_000);
  assert.equal(minPromptChunks('w '.repeat(76)), 2);
  // punctuation alone is no token; bracketed text belongs to one schedule only, so it is not counted
  assert.equal(minPromptChunks('( '.repeat(200)), 1);
  assert.equal(minPromptChunks(`[${'w '.repeat(70)}:${'v '.repeat(70)}:5]`), 1);
  // AND parts are chunked apart
  assert.equal(minPromptChunks(`${'w '.repeat(60)} AND ${'v '.repeat(60)}`), 1);
  assert.equal(promptParts('a AND b AND c'), 3);
});

test('WORKER_MEMORY_BYTES takes bytes or binary suffixes; a bad value is named; unset, the worker takes 80% of its memory', () => {
  assert.equal(loadConfig({ WORKER_MEMORY_BYTES: '975M' }).WORKER_MEMORY_BYTES, 975 * MiB);
  assert.equal(loadConfig({ WORKER_MEMORY_BYTES: '1073741824' }).WORKER_MEMORY_BYTES, 2 ** 30);
  assert.equal(loadConfig({}).WORKER_MEMORY_BYTES, undefined);
  assert.throws(() => loadConfig({ WORKER_MEMORY_BYTES: 'lots' }), /WORKER_MEMORY_BYTES/);
  assert.ok(defaultWorkerMemoryBytes() <= 0.8 * totalmem() && defaultWorkerMemoryBytes() > 0);
  assert.equal(loadConfig({}).MAX_PROMPT_CHUNKS, 20);
});
