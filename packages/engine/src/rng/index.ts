export * from './numpy-random-state';
