// Clip skip (A1111's CLIP_stop_at_last_layers): text states from hidden_states[-N] through the final LayerNorm.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ValidationError, type GenerationParams } from '@farm/core';
import { ensureTinyModel, txt2imgParams } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';
import { onnx } from '../src/onnx/onnx-proto';
import { applyFinalNorm, clipSkipSupport } from '../src/pipeline/clip-skip';

const { modelsDir } = await ensureTinyModel();
const engine = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
const base: GenerationParams = txt2imgParams();
const gen = async (over: Partial<GenerationParams>, e = engine) => (await e.generate([{ id: 'j', params: { ...base, ...over } }]))[0];
const raw = async (png: Buffer) => sharp(png).raw().toBuffer();

test('generated text encoders export hidden_states.0..L; the final LayerNorm of the last one is last_hidden_state', async () => {
  const path = join(modelsDir, 'tiny/text_encoder/model.onnx');
  const support = clipSkipSupport(path);
  assert.equal(support.hiddenStates, 3, 'embeddings + 2 layers');
  const session = await ort.InferenceSession.create(path);
  const ids = new Int32Array(77).fill(1);
  ids[0] = 0;
  const out = await session.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) });
  const normed = Float32Array.from(out['hidden_states.2'].data as Float32Array);
  applyFinalNorm(normed, support.finalNorm!);
  const last = out.last_hidden_state.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < last.length; i++) worst = Math.max(worst, Math.abs(last[i] - normed[i]));
  assert.ok(worst < 1e-4, `LayerNorm of the last hidden state matches the graph's own (max diff ${worst})`);
  await session.release();
});

test('clip skip 1 is the default; 2 and 3 change the image and are written in the infotext; past the layers is refused', async () => {
  const plain = await gen({});
  assert.ok((await raw((await gen({ clip_skip: 1 })).images[0])).equals(await raw(plain.images[0])));
  const two = await gen({ clip_skip: 2 });
  assert.ok(!(await raw(two.images[0])).equals(await raw(plain.images[0])));
  assert.equal(parseInfotext(readPngText(two.images[0]).parameters)['Clip skip'], '2');
  assert.equal(parseInfotext(readPngText(plain.images[0]).parameters)['Clip skip'], undefined);
  const three = await gen({ clip_skip: 3 });
  assert.ok(!(await raw(three.images[0])).equals(await raw(two.images[0])));
  assert.throws(
    () => engine.validate({ ...base, clip_skip: 4 }),
    (e: unknown) => e instanceof ValidationError && e.field === 'clip_skip' && /2 layers \+ 1/.test(e.message),
  );
});

test('items with different clip skips batch together and equal their runs alone', async () => {
  const together = await engine.generate([
    { id: 'a', params: { ...base, clip_skip: 2 } },
    { id: 'b', params: { ...base, seed: 4 } },
  ]);
  assert.ok((await raw(together[0].images[0])).equals(await raw((await gen({ clip_skip: 2 })).images[0])));
  assert.ok((await raw(together[1].images[0])).equals(await raw((await gen({ seed: 4 })).images[0])));
});

test('an export without hidden states: clip skip 2 is a ValidationError naming the model and how to export', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-skip-'));
  cpSync(join(modelsDir, 'tiny'), join(dir, 'plain-export'), { recursive: true });
  const path = join(dir, 'plain-export/text_encoder/model.onnx');
  const model = onnx.ModelProto.decode(readFileSync(path));
  model.graph!.output = model.graph!.output!.filter((o) => !o.name!.startsWith('hidden_states.'));
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  const other = new Engine({ modelsDir: dir, maxPixels: 256 * 256, maxSteps: 150 });
  assert.equal(other.hiddenStates('plain-export'), 0);
  assert.throws(
    () => other.validate({ ...base, model: 'plain-export', clip_skip: 2 }),
    (e: unknown) =>
      e instanceof ValidationError &&
      e.field === 'clip_skip' &&
      /model "plain-export".*no hidden_states\.\* outputs.*output_hidden_states=True/.test(e.message),
  );
  assert.equal((await gen({ model: 'plain-export' }, other)).images.length, 1, 'clip skip 1 still runs');
  await other.close();
});
