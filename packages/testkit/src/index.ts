export * from './ports';
export * from './redis';
export * from './models';
export * from './s3';
