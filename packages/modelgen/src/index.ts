export { generateModel, generateModelAtomically, writeTokenizer, GRAPH_VERSION, type GenerateModelOptions } from './generate-model';
export { presets, type ModelConfig, type PresetName } from './presets';
export { buildWordPieceVocab } from './wordpiece-vocab';
export { buildTokenizerFiles, bytesToUnicode } from './tokenizer-files';
export { writeLoraFixtures, type LoraFixtureFiles } from './lora-fixtures';
export { listLinearModules } from './linear-modules';
export { writeLdmCheckpoint, writeDiffusersFolder, type CheckpointFixtureOptions } from './checkpoint-fixtures';
export {
  importCheckpoint,
  checkpointFormat,
  CheckpointError,
  PICKLE_EXTENSIONS,
  type ImportOptions,
  type ImportResult,
  type CheckpointFormat,
} from './import/import-checkpoint';
export { generateEsrgan, buildEsrgan, type EsrganConfig } from './esrgan';
export { splitControlNet, splitControlNetFolder, splitFileNames, type ControlNetHalves } from './controlnet-split';
export { SeededRandom } from './seeded-random';
export type { WeightSource } from './onnx-builder';
