// Picks a model's tokenizer from the files in its tokenizer/ folder: tokenizer_config.json's tokenizer_class when it
// names one, else vocab.txt means BERT WordPiece and vocab.json + merges.txt means CLIP BPE.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BertTokenizer } from './bert-tokenizer';
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

export function loadTokenizer(dir: string): PromptTokenizer {
  switch (tokenizerKind(dir)) {
    case 'bert':
      return BertTokenizer.fromFiles(join(dir, 'vocab.txt'), join(dir, 'tokenizer_config.json'));
    case 'clip':
      return ClipTokenizer.fromFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
    default:
      throw new Error(`${dir} has no tokenizer: expected vocab.json + merges.txt (CLIP) or vocab.txt (BERT)`);
  }
}
