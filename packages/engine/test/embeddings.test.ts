// Textual inversion embeddings (fixtures made here): the name in a prompt is replaced by its vectors through rows
// added to the text encoder's token table. An embedding whose vectors are the table rows of "red castle" must render
// exactly what "red castle" renders, in the positive and in the negative prompt.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { GenerationParams } from '@farm/core';
import { ensureTinyModel, txt2imgParams } from '@farm/testkit';
import { Engine, readPngText, parseInfotext } from '../src/index';
import { onnx } from '../src/onnx/onnx-proto';
import { readFloats } from '../src/lora/onnx-weights';
import { writeSafetensors } from '../src/lora/safetensors';
import { loadTokenizer } from '../src/tokenizer';
import { scanEmbeddings, embeddingItem } from '../src/embeddings';

const { modelsDir } = await ensureTinyModel();
const dir = mkdtempSync(join(tmpdir(), 'embeddings-'));
const tokenizer = loadTokenizer(join(modelsDir, 'tiny/tokenizer'));
const proto = onnx.ModelProto.decode(readFileSync(join(modelsDir, 'tiny/text_encoder/model.onnx')));
const table = readFloats(proto.graph!.initializer!.find((t) => t.name === 'text_model.embeddings.token_embedding.weight')!);
const dim = 32;
const ids = tokenizer.encode('red castle');
const rows = new Float32Array(ids.length * dim);
ids.forEach((id, i) => rows.set(table.subarray(id * dim, (id + 1) * dim), i * dim));
writeFileSync(join(dir, 'tinycastle.safetensors'), writeSafetensors({ emb_params: { dtype: 'F32', shape: [ids.length, dim], data: rows } }, { step: '500' }));
writeFileSync(join(dir, 'widedim.safetensors'), writeSafetensors({ emb_params: { dtype: 'F32', shape: [1, 48], data: new Float32Array(48).fill(0.5) } }));
writeFileSync(
  join(dir, 'sdxlstyle.safetensors'),
  writeSafetensors({
    clip_l: { dtype: 'F32', shape: [1, 32], data: new Float32Array(32) },
    clip_g: { dtype: 'F32', shape: [1, 64], data: new Float32Array(64) },
  }),
);
writeFileSync(join(dir, 'pickled.pt'), 'PK\u0003\u0004 never unpickled');
const hash = createHash('sha256')
  .update(readFileSync(join(dir, 'tinycastle.safetensors')))
  .digest('hex')
  .slice(0, 12);

const engine = new Engine({ modelsDir, embeddingsDir: dir, maxPixels: 256 * 256, maxSteps: 150 });
const plain = new Engine({ modelsDir, maxPixels: 256 * 256, maxSteps: 150 });
const base: GenerationParams = txt2imgParams({ prompt: 'a tinycastle at night', seed: 5 });
const png = async (e: Engine, over: Partial<GenerationParams>) => (await e.generate([{ id: 'j', params: { ...base, ...over } }]))[0].images[0];
const raw = async (b: Buffer) => sharp(b).raw().toBuffer();

test('the folder: single-tensor safetensors load, several tensors are skipped, pickles are not read', () => {
  const { loaded, skipped } = scanEmbeddings(dir);
  assert.deepEqual(
    loaded.map((e) => [e.name, e.vectors, e.dim]),
    [
      ['tinycastle', ids.length, 32],
      ['widedim', 1, 48],
    ],
  );
  assert.deepEqual(
    skipped.map((e) => e.name),
    ['sdxlstyle'],
  );
  assert.deepEqual(embeddingItem(loaded[0]), { step: 500, sd_checkpoint: null, sd_checkpoint_name: null, shape: 32, vectors: ids.length });
});

test('an embedding of the rows of "red castle" renders what "red castle" renders, positive and negative', async () => {
  const withEmbedding = await png(engine, {});
  assert.ok((await raw(withEmbedding)).equals(await raw(await png(plain, { prompt: 'a red castle at night' }))));
  assert.ok(!(await raw(withEmbedding)).equals(await raw(await png(plain, {}))), 'without the folder the name is plain text');
  const negative = await png(engine, { prompt: 'a lighthouse', negative_prompt: '(tinycastle:1.2)' });
  assert.ok((await raw(negative)).equals(await raw(await png(plain, { prompt: 'a lighthouse', negative_prompt: '(red castle:1.2)' }))));
  assert.equal(parseInfotext(readPngText(withEmbedding).parameters)['TI hashes'], `tinycastle: ${hash}`);
  assert.equal(parseInfotext(readPngText(await png(engine, { prompt: 'a lighthouse' })).parameters)['TI hashes'], undefined);
});

test('an embedding of another width is not applied (A1111 skips it): its name stays text', async () => {
  assert.ok((await raw(await png(engine, { prompt: 'a widedim tower' }))).equals(await raw(await png(plain, { prompt: 'a widedim tower' }))));
});

test('embeddings batch with items that use none, and equal their runs alone', async () => {
  const together = await engine.generate([
    { id: 'a', params: base },
    { id: 'b', params: { ...base, prompt: 'a lighthouse', seed: 6 } },
  ]);
  assert.ok((await raw(together[0].images[0])).equals(await raw(await png(engine, {}))));
  assert.ok((await raw(together[1].images[0])).equals(await raw(await png(plain, { prompt: 'a lighthouse', seed: 6 }))));
});
