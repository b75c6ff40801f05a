export * from './types';
export * from './clip-tokenizer';
export * from './bert-tokenizer';
export * from './load-tokenizer';
export * from './prompt-attention';
export * from './prompt-chunks';
export * from './prompt-schedule';
export * from './prompt-composable';
