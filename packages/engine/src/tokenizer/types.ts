// What the prompt chunker needs from a tokenizer: ids without special tokens, the special ids, the sequence length.
export interface PromptTokenizer {
  readonly kind: 'clip' | 'bert';
  /** first token of every sequence (CLIP <|startoftext|>, BERT [CLS]) */
  readonly bosId: number;
  /** last real token (CLIP <|endoftext|>, BERT [SEP]) */
  readonly eosId: number;
  /** what fills the rest (CLIP: the end token, as SD1.5 does; BERT: [PAD]) */
  readonly padId: number;
  /** tokens per sequence including the two special tokens (77 for SD1.5) */
  readonly maxLength: number;
  /** token ids of `text`, without special tokens */
  encode(text: string): number[];
}
