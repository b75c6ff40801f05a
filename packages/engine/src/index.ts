export {
  Engine,
  LATENT_SCALE,
  type EngineOptions,
  type EngineItem,
  type EngineItemResult,
  type RunHooks,
  type LoraInfo,
  type ModelSessions,
  type EngineApi,
} from './engine';
export { EngineThread } from './thread/engine-thread';
export { ModelRegistry, CONVERTED_DIR, type ModelInfo, type ModelImporter } from './models/model-registry';
export { scanModelsDir, type ModelEntry, type ModelFormat } from './models/scan';
export { SessionCache, ProviderUnavailableError, type ExecutionProvider } from './onnx/session-cache';
export * from './png';
export { extractLoraTags, mergeLoraRefs } from '@farm/core';
