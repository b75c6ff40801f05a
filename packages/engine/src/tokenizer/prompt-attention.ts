// A1111's prompt emphasis: (text) x1.1, [text] /1.1, (text:1.5), nesting multiplies, \( \) literal brackets,
// BREAK on its own forces a new 75-token chunk. Unbalanced brackets are closed at the end.
export type WeightedText = [text: string, weight: number];

const TOKEN = /\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|]|[^\\()[\]:]+|:/g;
const BREAK = /\s*\bBREAK\b\s*/;

export function parsePromptAttention(text: string): WeightedText[] {
  const res: WeightedText[] = [];
  const round: number[] = [];
  const square: number[] = [];
  const multiply = (start: number, m: number) => {
    for (let p = start; p < res.length; p++) res[p][1] *= m;
  };
  for (const match of text.matchAll(TOKEN)) {
    const token = match[0];
    const weight = match[1];
    if (token.startsWith('\\')) res.push([token.slice(1), 1]);
    else if (token === '(') round.push(res.length);
    else if (token === '[') square.push(res.length);
    else if (weight !== undefined && round.length > 0) multiply(round.pop()!, Number.parseFloat(weight));
    else if (token === ')' && round.length > 0) multiply(round.pop()!, 1.1);
    else if (token === ']' && square.length > 0) multiply(square.pop()!, 1 / 1.1);
    else {
      const parts = token.split(BREAK);
      parts.forEach((part, i) => {
        if (i > 0) res.push(['BREAK', -1]);
        res.push([part, 1]);
      });
    }
  }
  for (const start of round) multiply(start, 1.1);
  for (const start of square) multiply(start, 1 / 1.1);
  if (res.length === 0) return [['', 1]];
  // merge neighbours of equal weight
  const merged: WeightedText[] = [];
  for (const item of res) {
    const last = merged[merged.length - 1];
    if (last && last[1] === item[1] && item[1] !== -1) last[0] += item[0];
    else merged.push([item[0], item[1]]);
  }
  return merged;
}
