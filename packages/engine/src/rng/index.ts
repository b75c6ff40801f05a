export * from './numpy-random-state';
export * from './philox';
export * from './torch-cpu-generator';
export * from './sources';
export * from './image-noise';
