export * from './ports';
export * from './redis';
export * from './models';
