export { Engine, LATENT_SCALE, type EngineOptions, type EngineItem, type EngineItemResult, type RunHooks, type LoraInfo, type ModelSessions } from './engine';
export { ModelRegistry, type ModelInfo } from './models/model-registry';
export { SessionCache, ProviderUnavailableError, type ExecutionProvider } from './onnx/session-cache';
export * from './png';
export { extractLoraTags, mergeLoraRefs } from '@farm/core';
