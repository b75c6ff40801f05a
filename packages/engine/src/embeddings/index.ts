export * from './registry';
export * from './text-encoder-rows';
