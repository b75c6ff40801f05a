export { freePort } from '@farm/core';
export * from './redis';
export * from './models';
export * from './s3';
export * from './browser';
export * from './port-chooser';
export * from './params';
