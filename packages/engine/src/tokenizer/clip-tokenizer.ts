// CLIP's byte-level BPE: whitespace collapse and lower-casing, CLIP's pre-tokenizer regex, bytes mapped to
// printable unicode, merges applied by rank, `</w>` marking the end of a word.
import type { PromptTokenizer } from './types';

const PRETOKENIZE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return table;
}

const BYTE_CHARS = bytesToUnicode();

export class ClipTokenizer implements PromptTokenizer {
  readonly kind = 'clip' as const;
  readonly maxLength = 77;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly ranks = new Map<string, number>();
  private readonly decoder: Map<number, string>;
  private readonly cache = new Map<string, number[]>();

  constructor(
    private readonly vocab: Record<string, number>,
    merges: string[],
  ) {
    merges.forEach((m, i) => this.ranks.set(m, i));
    const bos = vocab['<|startoftext|>'];
    const eos = vocab['<|endoftext|>'];
    if (bos === undefined || eos === undefined) throw new Error('vocab.json lacks <|startoftext|> or <|endoftext|>');
    this.bosId = bos;
    this.eosId = eos;
    this.padId = eos;
    this.decoder = new Map(Object.entries(vocab).map(([k, v]) => [v, k]));
  }

  static fromStrings(vocabJson: string, mergesText: string): ClipTokenizer {
    const merges = mergesText.split('\n').filter((l) => l.length > 0 && !l.startsWith('#version'));
    return new ClipTokenizer(JSON.parse(vocabJson), merges);
  }

  /** Token ids without start/end tokens. */
  encode(text: string): number[] {
    const cleaned = text.replace(/\s+/g, ' ').trim().toLowerCase();
    const ids: number[] = [];
    for (const match of cleaned.matchAll(PRETOKENIZE)) {
      const word = Array.from(new TextEncoder().encode(match[0]), (b) => BYTE_CHARS[b]).join('');
      ids.push(...this.bpe(word));
    }
    return ids;
  }

  decode(ids: number[]): string {
    const text = ids.map((id) => this.decoder.get(id) ?? '').join('');
    const bytes = Array.from(text.replace(/<\/w>/g, ' '), (ch) => {
      const b = BYTE_CHARS.indexOf(ch);
      return b >= 0 ? b : 32;
    });
    return new TextDecoder().decode(Uint8Array.from(bytes)).trim();
  }

  private bpe(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let symbols = [...word];
    symbols[symbols.length - 1] += '</w>';
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const merged = symbols[best] + symbols[best + 1];
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i < symbols.length - 1 && `${symbols[i]} ${symbols[i + 1]}` === `${symbols[best]} ${symbols[best + 1]}`) {
          next.push(merged);
          i++;
        } else next.push(symbols[i]);
      }
      symbols = next;
    }
    const ids = symbols.flatMap((s) => {
      const id = this.vocab[s];
      if (id !== undefined) return [id];
      // unknown multi-char symbol: fall back to its characters, then to end-of-text as the unknown token
      return [...s.replace('</w>', '')].map((ch) => this.vocab[ch] ?? this.eosId);
    });
    this.cache.set(word, ids);
    return ids;
  }
}
