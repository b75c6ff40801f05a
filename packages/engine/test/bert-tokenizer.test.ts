import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BertTokenizer, loadTokenizer, tokenizeWeighted, padChunks } from '../src/tokenizer';

// A hand-made vocab.txt: the id of a token is its line number.
const lines = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  '飞',
  '流',
  '直',
  '下',
  '三',
  '千',
  '，',
  'oil',
  'paint',
  '##ing',
  '!',
  'nai',
  '##ve',
  'cafe',
  ',',
  '##s',
  '1',
  '##0',
  '(',
  ')',
  '油',
  '画',
];
const vocabText = lines.join('\n') + '\n';
const id = (t: string) => lines.indexOf(t);
const bert = BertTokenizer.fromStrings(vocabText, { do_lower_case: true });

test('BERT basic tokenization + WordPiece on mixed Chinese, English and punctuation, ids derived by hand', () => {
  // 飞流直下三千 are in the vocabulary one character each, 尺 is not ([UNK]); the full-width comma is punctuation;
  // Oil is lower-cased; Painting! -> paint ##ing !; naïve loses its accent -> nai ##ve; Café,10 -> cafe , 1 ##0;
  // cats cannot be covered by pieces (no "cat", "ca", "c") -> one [UNK] for the whole word; the tab is a space and
  // the NUL control character is dropped.
  const ids = bert.encode('飞流直下三千尺，Oil  Painting!\tnaïve Caf\u0000é,10 cats');
  assert.deepEqual(ids, [5, 6, 7, 8, 9, 10, 1, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 1]);
  assert.deepEqual(bert.basicTokenize('三千尺abc，x'), ['三', '千', '尺', 'abc', '，', 'x']);
});

test('lower-casing and accent stripping follow tokenizer_config.json', () => {
  const cased = BertTokenizer.fromStrings(vocabText, { do_lower_case: false });
  assert.deepEqual(cased.encode('Oil oil'), [id('[UNK]'), id('oil')]);
  // strip_accents false with lower-casing on keeps the accent: naïve is no longer covered
  const accents = BertTokenizer.fromStrings(vocabText, { do_lower_case: true, strip_accents: false });
  assert.deepEqual(accents.encode('naïve naive'), [id('[UNK]'), id('nai'), id('##ve')]);
  // strip_accents unset follows do_lower_case
  assert.deepEqual(BertTokenizer.fromStrings(vocabText, {}).encode('NAÏVE'), [id('nai'), id('##ve')]);
});

test('chunks: [CLS] tokens [SEP] then [PAD] to 77; emphasis weights apply to Chinese characters', () => {
  assert.equal(bert.maxLength, 77);
  const [chunk] = tokenizeWeighted(bert, '飞流直下三千尺，(油画:1.3)');
  assert.equal(chunk.ids.length, 77);
  assert.deepEqual(Array.from(chunk.ids.slice(0, 13)), [2, 5, 6, 7, 8, 9, 10, 1, 11, 25, 26, 3, 0]);
  assert.ok(chunk.ids.slice(12).every((v) => v === 0));
  assert.deepEqual(
    Array.from(chunk.weights.slice(0, 12), (w) => Math.round(w * 100) / 100),
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1.3, 1.3, 1],
  );
  const a = tokenizeWeighted(bert, '油画');
  const b = padChunks(bert, tokenizeWeighted(bert, ''), a.length);
  assert.deepEqual(Array.from(b[0].ids.slice(0, 3)), [2, 3, 0]);
  assert.equal(a.length, b.length);
});

test('model_max_length from the config sets the chunk length', () => {
  const short = BertTokenizer.fromStrings(vocabText, { model_max_length: 8 });
  const chunks = tokenizeWeighted(short, '飞流直下三千飞流直下');
  assert.deepEqual(
    chunks.map((c) => Array.from(c.ids)),
    [
      [2, 5, 6, 7, 8, 9, 10, 3],
      [2, 5, 6, 7, 8, 3, 0, 0],
    ],
  );
  // transformers' "no limit" sentinel falls back to SD's 77
  assert.equal(BertTokenizer.fromStrings(vocabText, { model_max_length: 1e30 }).maxLength, 77);
});

test('folders with the same tokenizer files share one tokenizer; different files (a changed config) get their own', () => {
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'tok-')));
  try {
    dirs.forEach((dir, n) => {
      writeFileSync(join(dir, 'vocab.txt'), vocabText);
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, model_max_length: n === 2 ? 20 : 16 }));
    });
    const [a, b, c] = dirs.map((dir) => loadTokenizer(dir));
    assert.equal(a, b, 'one tokenizer for two copies of the files');
    assert.notEqual(a, c);
    assert.deepEqual([a.maxLength, c.maxLength], [16, 20]);
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});

test('loadTokenizer picks BERT for vocab.txt and CLIP for vocab.json + merges.txt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tok-'));
  try {
    writeFileSync(join(dir, 'vocab.txt'), vocabText);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: false, model_max_length: 16 }));
    const t = loadTokenizer(dir);
    assert.equal(t.kind, 'bert');
    assert.equal(t.maxLength, 16);
    assert.deepEqual(t.encode('Oil'), [id('[UNK]')]);
    rmSync(join(dir, 'tokenizer_config.json'));
    rmSync(join(dir, 'vocab.txt'));
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ 'a</w>': 0, '<|startoftext|>': 1, '<|endoftext|>': 2 }));
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
    assert.equal(loadTokenizer(dir).kind, 'clip');
    rmSync(join(dir, 'vocab.json'));
    assert.throws(() => loadTokenizer(dir), /no tokenizer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
