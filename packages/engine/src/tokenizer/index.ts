export * from './clip-tokenizer';
export * from './prompt-attention';
export * from './prompt-chunks';
