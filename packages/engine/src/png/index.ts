export * from './png-text';
export * from './infotext';
