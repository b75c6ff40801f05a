// A CLIP-style byte-level BPE vocabulary of our own: the 256 byte symbols, the same with `</w>`, merges learned
// from a small built-in prompt corpus, then <|startoftext|> and <|endoftext|> as the last two ids (as in CLIP).
const CORPUS = `a photo of an astronaut riding a horse on the moon, highly detailed, 8k, masterpiece, best quality
portrait of a woman with long hair, studio lighting, sharp focus, oil painting by a famous artist, trending on artstation
a beautiful landscape with mountains and a lake at sunset, golden hour, dramatic clouds, cinematic lighting
a cute cat sitting on a wooden table, soft light, bokeh, depth of field, photorealistic, ultra realistic
cyberpunk city street at night, neon lights, rain, reflections, wide angle, concept art, digital painting
a lighthouse on a cliff, stormy sea, waves, moody atmosphere, watercolor, illustration, vibrant colors
blurry, low quality, worst quality, bad anatomy, extra fingers, deformed, ugly, watermark, text, jpeg artifacts
a red car parked in front of a house, summer day, green trees, blue sky, simple background, anime style
fantasy castle in the forest, magic, glowing, fog, epic, intricate details, elegant, smooth, hyper detailed
a dog running in the snow, winter, white, cold, happy, motion blur, close up, macro, film grain, vintage`;

export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

export function buildTokenizerFiles(numMerges: number): { vocab: Record<string, number>; merges: string[] } {
  const byteChars = [...bytesToUnicode().values()];
  const tokens: string[] = [...byteChars, ...byteChars.map((c) => c + '</w>')];
  const counts = new Map<string, number>();
  for (const word of CORPUS.toLowerCase().match(/[a-z]+|[0-9]|[^\sa-z0-9]+/g) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1);
  let words = [...counts.entries()].map(([w, c]) => {
    const symbols = [...w];
    symbols[symbols.length - 1] += '</w>';
    return { symbols, count: c };
  });
  const merges: string[] = [];
  const known = new Set(tokens);
  while (merges.length < numMerges) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i < symbols.length - 1; i++) {
        const key = symbols[i] + ' ' + symbols[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    if (pairs.size === 0) break;
    const [best] = [...pairs.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
    const [left, right] = best.split(' ');
    merges.push(best);
    const merged = left + right;
    if (!known.has(merged)) {
      known.add(merged);
      tokens.push(merged);
    }
    words = words.map(({ symbols, count }) => {
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i < symbols.length - 1 && symbols[i] === left && symbols[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(symbols[i]);
      }
      return { symbols: out, count };
    });
  }
  tokens.push('<|startoftext|>', '<|endoftext|>');
  return { vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges };
}
