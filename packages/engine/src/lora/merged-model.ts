// Builds the bytes of a network with LoRAs merged into its weights, for a new InferenceSession. The merge happens
// once per (model, LoRA set); denoising steps then cost exactly what they cost without LoRA.
import { join } from 'node:path';
import { UnknownLoraError, ValidationError, type LoraRef } from '@farm/core';
import { onnx } from '../onnx/onnx-proto';
import { readSafetensors } from './safetensors';
import { mapLoraKeys, type LoraTarget } from './lora-keys';
import { linearWeights, loadModelProto, readFloats, usesExternalData } from './onnx-weights';
import { addLoraDelta, assertFinite } from './merge';
import type { LoraInfo } from './registry';

const NETWORK_DIR: Record<LoraTarget, string> = { unet: 'unet', text_encoder: 'text_encoder' };

export interface MergeReport { bytes: Record<LoraTarget, Uint8Array | null>; matchedLayers: number; unmatchedKeys: number }

export function buildMergedNetworks(modelPath: string, loras: LoraRef[], available: LoraInfo[]): MergeReport {
  const protos = {
    unet: loadModelProto(join(modelPath, NETWORK_DIR.unet, 'model.onnx')),
    text_encoder: loadModelProto(join(modelPath, NETWORK_DIR.text_encoder, 'model.onnx')),
  };
  for (const [target, proto] of Object.entries(protos)) {
    if (usesExternalData(proto)) throw new ValidationError(`LoRA merging of ${target} weights stored as ONNX external data is not supported yet`, 'loras');
  }
  const weights = { unet: linearWeights(protos.unet), text_encoder: linearWeights(protos.text_encoder) };
  const modules = { unet: [...weights.unet.keys()], text_encoder: [...weights.text_encoder.keys()] };
  const merged = new Map<string, { target: LoraTarget; data: Float32Array; tensor: onnx.ITensorProto }>();
  let matchedLayers = 0;
  let unmatchedKeys = 0;
  for (const ref of loras) {
    const info = available.find((l) => l.name === ref.name);
    if (!info) throw new UnknownLoraError(ref.name, available.map((l) => l.name));
    const { layers, unmatched } = mapLoraKeys(readSafetensors(info.path).tensors, modules);
    if (layers.length === 0) throw new ValidationError(`LoRA "${ref.name}" matches no layer of this model`, 'loras');
    matchedLayers += layers.length;
    unmatchedKeys += unmatched.length;
    for (const layer of layers) {
      const w = weights[layer.target].get(layer.module)!;
      const key = `${layer.target}:${layer.module}`;
      const entry = merged.get(key) ?? { target: layer.target, data: Float32Array.from(readFloats(w.initializer)), tensor: w.initializer };
      addLoraDelta(entry.data, w.inFeatures, w.outFeatures, layer, ref.weight);
      merged.set(key, entry);
    }
  }
  const touched = new Set<LoraTarget>();
  for (const [key, { target, data, tensor }] of merged) {
    assertFinite(data, key);
    tensor.rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    tensor.floatData = [];
    touched.add(target);
  }
  const encode = (t: LoraTarget) => (touched.has(t) ? onnx.ModelProto.encode(protos[t]).finish() : null);
  return { bytes: { unet: encode('unet'), text_encoder: encode('text_encoder') }, matchedLayers, unmatchedKeys };
}
