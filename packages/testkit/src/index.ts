export * from './ports';
export * from './redis';
