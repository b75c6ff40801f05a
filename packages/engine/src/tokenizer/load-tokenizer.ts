// Picks a model's tokenizer from the files in its tokenizer/ folder: tokenizer_config.json's tokenizer_class when it
// names one, else vocab.txt means BERT WordPiece and vocab.json + merges.txt means CLIP BPE. One tokenizer per distinct
// set of files per thread: models that share a vocabulary (SD1.5 and its fine-tunes, the two Taiyi models) and the
// engines of several workers in one process share one. Building CLIP's is ~10 ms of parsing and tens of MB; a copy
// per model per engine made the main thread of a process with 4 workers stop for 40-90 ms in garbage collection.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BertTokenizer, type BertTokenizerConfig } from './bert-tokenizer';
import { ClipTokenizer } from './clip-tokenizer';
import type { PromptTokenizer } from './types';

export function tokenizerKind(dir: string): 'clip' | 'bert' | null {
  const configPath = join(dir, 'tokenizer_config.json');
  if (existsSync(configPath)) {
    const cls = String((JSON.parse(readFileSync(configPath, 'utf8')) as { tokenizer_class?: string }).tokenizer_class ?? '');
    if (/^Bert/i.test(cls)) return 'bert';
    if (/^CLIP/i.test(cls)) return 'clip';
  }
  if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) return 'clip';
  if (existsSync(join(dir, 'vocab.txt'))) return 'bert';
  return null;
}

/** tokenizers built so far, by the contents of their files (tokenizers are immutable but for a memo of encodings) */
const built = new Map<string, PromptTokenizer>();

/** the tokenizer these file contents make: one built before from the same contents, else a new one */
function shared(contents: string[], build: () => PromptTokenizer): PromptTokenizer {
  // a digest, not the texts, as the key: the texts are megabytes and would stay in memory as keys
  const key = createHash('sha256').update(contents.join('\0')).digest('hex');
  let tokenizer = built.get(key);
  if (!tokenizer) built.set(key, (tokenizer = build()));
  return tokenizer;
}

export function loadTokenizer(dir: string): PromptTokenizer {
  switch (tokenizerKind(dir)) {
    case 'bert': {
      const vocab = readFileSync(join(dir, 'vocab.txt'), 'utf8');
      const configPath = join(dir, 'tokenizer_config.json');
      const config = existsSync(configPath) ? readFileSync(configPath, 'utf8') : '{}';
      return shared(['bert', vocab, config], () => BertTokenizer.fromStrings(vocab, JSON.parse(config) as BertTokenizerConfig));
    }
    case 'clip': {
      const vocab = readFileSync(join(dir, 'vocab.json'), 'utf8');
      const merges = readFileSync(join(dir, 'merges.txt'), 'utf8');
      return shared(['clip', vocab, merges], () => ClipTokenizer.fromStrings(vocab, merges));
    }
    default:
      throw new Error(`${dir} has no tokenizer: expected vocab.json + merges.txt (CLIP) or vocab.txt (BERT)`);
  }
}
