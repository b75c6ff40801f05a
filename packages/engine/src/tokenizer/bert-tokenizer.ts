// BERT's tokenizer as transformers' BertTokenizer does it: basic tokenization (clean control characters, spaces
// around every CJK ideograph, whitespace split, lower-casing and accent stripping as configured, punctuation split
// off one character at a time), then greedy longest-match-first WordPiece with `##` continuations; a word that
// cannot be covered (or is longer than 100 characters) becomes [UNK].
import type { PromptTokenizer } from './types';

export interface BertTokenizerConfig {
  do_lower_case?: boolean;
  /** null/undefined: follow do_lower_case, as transformers does */
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  model_max_length?: number;
  unk_token?: string;
  cls_token?: string;
  sep_token?: string;
  pad_token?: string;
}

const MAX_CHARS_PER_WORD = 100;
/** SD1.5's sequence length; used when the config's model_max_length is absent or the transformers "unset" sentinel */
const DEFAULT_MAX_LENGTH = 77;

/** CJK Unified Ideographs and their extensions and compatibility blocks (the ranges BasicTokenizer uses). */
export function isCjkCodePoint(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** ASCII non-letter/digit symbols count as punctuation too ($, ^, `, ...), as in BERT. */
export function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /^\p{P}$/u.test(ch);
}

const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /^\p{Zs}$/u.test(ch);
const isControl = (ch: string) => ch !== '\t' && ch !== '\n' && ch !== '\r' && /^[\p{Cc}\p{Cf}]$/u.test(ch);

export class BertTokenizer implements PromptTokenizer {
  readonly kind = 'bert' as const;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maxLength: number;
  private readonly lowerCase: boolean;
  private readonly stripAccents: boolean;
  private readonly chineseChars: boolean;

  constructor(
    private readonly vocab: Map<string, number>,
    config: BertTokenizerConfig = {},
  ) {
    const id = (token: string) => {
      const v = vocab.get(token);
      if (v === undefined) throw new Error(`vocab.txt lacks the special token ${token}`);
      return v;
    };
    this.bosId = id(config.cls_token ?? '[CLS]');
    this.eosId = id(config.sep_token ?? '[SEP]');
    this.padId = id(config.pad_token ?? '[PAD]');
    this.unkId = id(config.unk_token ?? '[UNK]');
    this.lowerCase = config.do_lower_case ?? true;
    this.stripAccents = config.strip_accents ?? this.lowerCase;
    this.chineseChars = config.tokenize_chinese_chars ?? true;
    const max = config.model_max_length;
    this.maxLength = max !== undefined && Number.isInteger(max) && max >= 3 && max < 1e9 ? max : DEFAULT_MAX_LENGTH;
  }

  /** vocab.txt: one token per line, the id is the line number. */
  static fromStrings(vocabText: string, config: BertTokenizerConfig = {}): BertTokenizer {
    const vocab = new Map<string, number>();
    vocabText.split('\n').forEach((line, i) => {
      const token = line.replace(/\r$/, '');
      if (token.length > 0 && !vocab.has(token)) vocab.set(token, i);
    });
    return new BertTokenizer(vocab, config);
  }

  encode(text: string): number[] {
    return this.basicTokenize(text).flatMap((word) => this.wordPiece(word));
  }

  /** The words BERT's BasicTokenizer makes of `text`. */
  basicTokenize(text: string): string[] {
    let cleaned = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      if (isWhitespace(ch)) cleaned += ' ';
      else if (this.chineseChars && isCjkCodePoint(cp)) cleaned += ` ${ch} `;
      else cleaned += ch;
    }
    const words: string[] = [];
    for (let token of cleaned.split(' ')) {
      if (token.length === 0) continue;
      if (this.lowerCase) token = token.toLowerCase();
      if (this.stripAccents) token = token.normalize('NFD').replace(/\p{Mn}/gu, '');
      let current = '';
      for (const ch of token) {
        if (isBertPunctuation(ch)) {
          if (current) words.push(current);
          words.push(ch);
          current = '';
        } else current += ch;
      }
      if (current) words.push(current);
    }
    return words;
  }

  private wordPiece(word: string): number[] {
    const chars = [...word];
    if (chars.length > MAX_CHARS_PER_WORD) return [this.unkId];
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        found = this.vocab.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unkId];
      ids.push(found);
      start = end;
    }
    return ids;
  }
}
