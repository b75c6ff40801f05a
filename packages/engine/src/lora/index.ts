export * from './safetensors';
export * from './lora-keys';
export * from './onnx-weights';
export * from './merge';
export * from './registry';
export { buildMergedNetworks, removeMergedFiles } from './merged-model';
export { extractLoraTags, mergeLoraRefs } from '@farm/core';
