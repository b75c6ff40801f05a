// A1111's prompt editing, alternation and AND. Expected schedules are the doctests A1111 publishes in
// modules/prompt_parser.py (1.10, steps = 10) and cases worked by hand from its grammar.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { promptSchedule, scheduleIndexAt, splitComposable } from '../src/tokenizer';

const g = (p: string, steps = 10) => promptSchedule(p, steps).map((e) => [e.endAtStep, e.text]);

test('A1111 doctests: prompt editing', () => {
  assert.deepEqual(g('test'), [[10, 'test']]);
  assert.deepEqual(g('a [b:3]'), [
    [3, 'a '],
    [10, 'a b'],
  ]);
  assert.deepEqual(g('a [b: 3]'), [
    [3, 'a '],
    [10, 'a b'],
  ]);
  assert.deepEqual(g('a [[[b]]:2]'), [
    [2, 'a '],
    [10, 'a [[b]]'],
  ]);
  assert.deepEqual(g('[(a:2):3]'), [
    [3, ''],
    [10, '(a:2)'],
  ]);
  assert.deepEqual(g('a [b : c : 1] d'), [
    [1, 'a b  d'],
    [10, 'a  c  d'],
  ]);
  assert.deepEqual(g('a[b:[c:d:2]:1]e'), [
    [1, 'abe'],
    [2, 'ace'],
    [10, 'ade'],
  ]);
  assert.deepEqual(g('a [unbalanced'), [[10, 'a [unbalanced']]);
  assert.deepEqual(g('a [b:.5] c'), [
    [5, 'a  c'],
    [10, 'a b c'],
  ]);
  assert.deepEqual(g('((a][:b:c [d:3]'), [
    [3, '((a][:b:c '],
    [10, '((a][:b:c d'],
  ]);
});

test('A1111 doctests: alternation, with empty alternatives', () => {
  assert.deepEqual(g('[a|(b:1.1)]'), [
    [1, 'a'],
    [2, '(b:1.1)'],
    [3, 'a'],
    [4, '(b:1.1)'],
    [5, 'a'],
    [6, '(b:1.1)'],
    [7, 'a'],
    [8, '(b:1.1)'],
    [9, 'a'],
    [10, '(b:1.1)'],
  ]);
  assert.deepEqual(g('[fe|]male'), [
    [1, 'female'],
    [2, 'male'],
    [3, 'female'],
    [4, 'male'],
    [5, 'female'],
    [6, 'male'],
    [7, 'female'],
    [8, 'male'],
    [9, 'female'],
    [10, 'male'],
  ]);
  assert.deepEqual(g('[fe|||]male'), [
    [1, 'female'],
    [2, 'male'],
    [3, 'male'],
    [4, 'male'],
    [5, 'female'],
    [6, 'male'],
    [7, 'male'],
    [8, 'male'],
    [9, 'female'],
    [10, 'male'],
  ]);
});

test('A1111 header example: several edits at fractions of 100 steps', () => {
  const p =
    'fantasy landscape with a [mountain:lake:0.25] and [an oak:a christmas tree:0.75][ in foreground::0.6][: in background:0.25] [shoddy:masterful:0.5]';
  assert.deepEqual(g(p, 100), [
    [25, 'fantasy landscape with a mountain and an oak in foreground shoddy'],
    [50, 'fantasy landscape with a lake and an oak in foreground in background shoddy'],
    [60, 'fantasy landscape with a lake and an oak in foreground in background masterful'],
    [75, 'fantasy landscape with a lake and an oak in background masterful'],
    [100, 'fantasy landscape with a lake and a christmas tree in background masterful'],
  ]);
});

test('when: a number with "." is a fraction of the steps, without one a step; past the end it is clamped', () => {
  assert.deepEqual(g('[a:b:1.0]', 8), [[8, 'a']]);
  assert.deepEqual(g('[a:b:0.3]', 8), [
    [2, 'a'],
    [8, 'b'],
  ]); // int(2.4)
  assert.deepEqual(g('[a:b:20]', 8), [[8, 'a']]);
  assert.deepEqual(g('[a:b:0]', 8), [[8, 'b']]); // when 0 is never "step <= when"
  assert.deepEqual(g('[a:b:-2]', 8), [[8, 'b']]);
});

test('escapes, emphasis around edits, and text the grammar cannot read', () => {
  assert.deepEqual(g('\\[a:b:2\\] c'), [[10, '\\[a:b:2\\] c']]);
  assert.deepEqual(g('a \\: [b:c:2]'), [
    [2, 'a \\: b'],
    [10, 'a \\: c'],
  ]);
  assert.deepEqual(g('([cat:dog:4]:1.3)'), [
    [4, '(cat:1.3)'],
    [10, '(dog:1.3)'],
  ]);
  assert.deepEqual(g('a | b [c:d:2]'), [[10, 'a | b [c:d:2]']], 'a stray | makes A1111 keep the prompt as written');
  assert.deepEqual(g('[a|b'), [[10, '[a|b']]);
  assert.deepEqual(g('BREAK [a:b:2]'), [
    [2, 'BREAK a'],
    [10, 'BREAK b'],
  ]);
});

test('prompt editing is text-only: it works on CJK prompts', () => {
  assert.deepEqual(g('一只[猫:狗:5]在草地上'), [
    [5, '一只猫在草地上'],
    [10, '一只狗在草地上'],
  ]);
});

test('the entry a model call uses: A1111 counts calls from 0 and picks the first entry with call <= end', () => {
  const s = promptSchedule('a [b:3]', 10);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 9].map((c) => s[scheduleIndexAt(s, c)].text),
    ['a ', 'a ', 'a ', 'a ', 'a b', 'a b'],
  );
  const alt = promptSchedule('[x|y]', 4);
  assert.deepEqual(
    [0, 1, 2, 3].map((c) => alt[scheduleIndexAt(alt, c)].text),
    ['x', 'x', 'y', 'x'],
  );
  assert.equal(scheduleIndexAt(s, 12), 0, 'past the last entry A1111 falls back to the first');
});

test('AND splits the positive prompt into weighted sub-prompts (A1111 re_weight)', () => {
  assert.deepEqual(splitComposable('a cat'), [{ text: 'a cat', weight: 1 }]);
  assert.deepEqual(splitComposable('a cat :1.2 AND a dog:0.5 AND (sky:1.1)'), [
    { text: 'a cat', weight: 1.2 },
    { text: ' a dog', weight: 0.5 },
    { text: ' (sky:1.1)', weight: 1 },
  ]);
  assert.deepEqual(splitComposable('ANDROID and AND x :-1'), [
    { text: 'ANDROID and', weight: 1 },
    { text: ' x', weight: -1 },
  ]);
});
