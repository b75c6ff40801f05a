export * from './types';
export * from './errors';
export * from './config';
export * from './schemas';
export * from './ports';
export * from './a1111';
export * from './float16';
export * from './lora-tags';
