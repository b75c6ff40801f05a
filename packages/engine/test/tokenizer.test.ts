import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ClipTokenizer, parsePromptAttention, tokenizeWeighted, padChunks } from '../src/tokenizer';

// A hand-made vocabulary: letters, letters with </w>, a few merges, the two special tokens.
const letters = 'abcdefghijklmnopqrstuvwxyz,.!'.split('');
const symbols = [...letters, ...letters.map((l) => l + '</w>'), 'ca', 'cat</w>', 'do', 'dog</w>', 'th', 'the</w>'];
const vocab: Record<string, number> = Object.fromEntries([...symbols, '<|startoftext|>', '<|endoftext|>'].map((s, i) => [s, i]));
const merges = ['#version: 0.2', 'c a', 'ca t</w>', 'd o', 'do g</w>', 't h', 'th e</w>'].join('\n');
const tok = ClipTokenizer.fromStrings(JSON.stringify(vocab), merges);

test('BPE applies merges by rank and marks word ends with </w>', () => {
  assert.deepEqual(tok.encode('cat'), [vocab['cat</w>']]);
  assert.deepEqual(tok.encode('the dog'), [vocab['the</w>'], vocab['dog</w>']]);
  assert.deepEqual(tok.encode('cab'), [vocab.ca, vocab['b</w>']]);
  assert.equal(tok.decode(tok.encode('the dog')), 'the dog');
});

test('lower-cases, collapses whitespace and splits punctuation', () => {
  assert.deepEqual(tok.encode('  The   CAT! '), [vocab['the</w>'], vocab['cat</w>'], vocab['!</w>']]);
  assert.deepEqual(tok.encode('cat,dog'), [vocab['cat</w>'], vocab[',</w>'], vocab['dog</w>']]);
});

test('special ids: start, end, and padding with the end token as SD1.5 does', () => {
  assert.equal(tok.bosId, vocab['<|startoftext|>']);
  assert.equal(tok.eosId, vocab['<|endoftext|>']);
  assert.equal(tok.padId, tok.eosId);
});

test('emphasis parsing follows A1111', () => {
  const r = parsePromptAttention('a (very) beautiful [ugly] (dog:1.3)');
  const w = Object.fromEntries(r.map(([t, x]) => [t.trim(), x]));
  assert.ok(Math.abs(w.very - 1.1) < 1e-9);
  assert.ok(Math.abs(w.ugly - 1 / 1.1) < 1e-9);
  assert.ok(Math.abs(w.dog - 1.3) < 1e-9);
  assert.equal(w.a, 1);
  assert.ok(Math.abs(parsePromptAttention('((a))')[0][1] - 1.21) < 1e-9);
  assert.deepEqual(parsePromptAttention('\\(literal\\)'), [['(literal)', 1]]);
  assert.deepEqual(parsePromptAttention('a BREAK b'), [
    ['a', 1],
    ['BREAK', -1],
    ['b', 1],
  ]);
  assert.ok(Math.abs(parsePromptAttention('(unclosed')[0][1] - 1.1) < 1e-9);
  assert.deepEqual(parsePromptAttention(''), [['', 1]]);
});

test('chunks: BOS first, 75 tokens, end token and padding; weights follow emphasis', () => {
  const [chunk] = tokenizeWeighted(tok, 'a (cat:1.5) dog');
  assert.equal(chunk.ids.length, 77);
  assert.equal(chunk.ids[0], tok.bosId);
  assert.deepEqual(Array.from(chunk.ids.slice(1, 5)), [vocab['a</w>'], vocab['cat</w>'], vocab['dog</w>'], tok.eosId]);
  assert.equal(chunk.ids[76], tok.padId);
  assert.ok(Math.abs(chunk.weights[2] - 1.5) < 1e-6);
  assert.equal(chunk.weights[1], 1);
});

test('an 80-token prompt makes two chunks; BREAK forces a new one; empty prompt gives BOS + EOS', () => {
  const long = tokenizeWeighted(tok, Array.from({ length: 80 }, () => 'cat').join(' '));
  assert.equal(long.length, 2);
  assert.equal(long[1].ids[0], tok.bosId);
  assert.equal(long[1].ids[6], tok.eosId);
  assert.equal(tokenizeWeighted(tok, 'cat BREAK dog').length, 2);
  const [empty] = tokenizeWeighted(tok, '');
  assert.deepEqual(Array.from(empty.ids.slice(0, 3)), [tok.bosId, tok.eosId, tok.padId]);
});

test('an overflowing chunk breaks after its last comma when it is near the end', () => {
  const words = [...Array.from({ length: 70 }, () => 'cat'), ',', ...Array.from({ length: 10 }, () => 'dog')].join(' ');
  const chunks = tokenizeWeighted(tok, words);
  assert.equal(chunks.length, 2);
  assert.equal(chunks[0].ids[71], vocab[',</w>']);
  assert.equal(chunks[0].ids[72], tok.eosId);
  assert.equal(chunks[1].ids[1], vocab['dog</w>']);
});

test('padChunks pads a shorter prompt with empty chunks', () => {
  const a = tokenizeWeighted(tok, Array.from({ length: 100 }, () => 'cat').join(' '));
  const b = tokenizeWeighted(tok, 'dog');
  const x = padChunks(tok, a, 2);
  const y = padChunks(tok, b, 2);
  assert.equal(x.length, 2);
  assert.equal(y.length, 2);
  assert.equal(y[1].ids[1], tok.eosId);
});
