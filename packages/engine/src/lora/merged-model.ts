// Builds the bytes of a network with LoRAs merged into its weights, for a new InferenceSession. The merge happens
// once per (model, LoRA set); denoising steps then cost exactly what they cost without LoRA.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { UnknownLoraError, ValidationError, type LoraRef } from '@farm/core';
import { onnx } from '../onnx/onnx-proto';
import { readSafetensors } from './safetensors';
import { mapLoraKeys, type LoraTarget } from './lora-keys';
import { linearWeights, loadModelProto, readFloats, usesExternalData } from './onnx-weights';
import { addLoraDelta, assertFinite } from './merge';
import type { LoraInfo } from './registry';

const NETWORK_DIR: Record<LoraTarget, string> = { unet: 'unet', text_encoder: 'text_encoder' };

/** Merged network: model bytes (weights inline) or a model file path (large models keeping external data). */
export interface MergeReport {
  bytes: Record<LoraTarget, Uint8Array | string | null>;
  matchedLayers: number;
  unmatchedKeys: number;
}

export function buildMergedNetworks(modelPath: string, loras: LoraRef[], available: LoraInfo[]): MergeReport {
  const protos = {
    unet: loadModelProto(join(modelPath, NETWORK_DIR.unet, 'model.onnx')),
    text_encoder: loadModelProto(join(modelPath, NETWORK_DIR.text_encoder, 'model.onnx')),
  };
  const weights = { unet: linearWeights(protos.unet), text_encoder: linearWeights(protos.text_encoder) };
  const modules = { unet: [...weights.unet.keys()], text_encoder: [...weights.text_encoder.keys()] };
  const merged = new Map<string, { target: LoraTarget; data: Float32Array; tensor: onnx.ITensorProto }>();
  let matchedLayers = 0;
  let unmatchedKeys = 0;
  for (const ref of loras) {
    const info = available.find((l) => l.name === ref.name);
    if (!info)
      throw new UnknownLoraError(
        ref.name,
        available.map((l) => l.name),
      );
    const { layers, unmatched } = mapLoraKeys(readSafetensors(info.path).tensors, modules);
    if (layers.length === 0) throw new ValidationError(`LoRA "${ref.name}" matches no layer of this model`, 'loras');
    matchedLayers += layers.length;
    unmatchedKeys += unmatched.length;
    for (const layer of layers) {
      const w = weights[layer.target].get(layer.module)!;
      const key = `${layer.target}:${layer.module}`;
      const entry = merged.get(key) ?? {
        target: layer.target,
        data: Float32Array.from(readFloats(w.initializer, join(modelPath, NETWORK_DIR[layer.target]))),
        tensor: w.initializer,
      };
      addLoraDelta(entry.data, w.inFeatures, w.outFeatures, layer, ref.weight);
      merged.set(key, entry);
    }
  }
  const touched = new Set<LoraTarget>();
  for (const [key, { target, data, tensor }] of merged) {
    assertFinite(data, key);
    tensor.rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    tensor.floatData = [];
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    tensor.externalData = [];
    touched.add(target);
  }
  const cacheKey = createHash('sha256').update(resolve(modelPath)).update(JSON.stringify(loras)).digest('hex').slice(0, 16);
  const encode = (t: LoraTarget) => {
    if (!touched.has(t)) return null;
    const bytes = onnx.ModelProto.encode(protos[t]).finish();
    if (!usesExternalData(protos[t])) return bytes;
    // Large models: the merged tensors go inline and the rest stay external. onnxruntime only reads external data
    // from the model's own folder (symlinks are resolved and refused), so the weights file is hard-linked into a
    // folder of our own when the filesystem allows, else the merged model is written beside the original, else
    // (read-only, other filesystem) the weights are copied.
    const source = join(modelPath, NETWORK_DIR[t]);
    const locations = [
      ...new Set((protos[t].graph?.initializer ?? []).flatMap((i) => (i.externalData ?? []).filter((e) => e.key === 'location').map((e) => e.value!))),
    ];
    const dir = join(tmpdir(), 'farm-lora-merged', cacheKey, NETWORK_DIR[t]);
    mkdirSync(dir, { recursive: true });
    try {
      for (const l of locations) if (!existsSync(join(dir, l))) linkSync(resolve(source, l), join(dir, l));
    } catch {
      try {
        const beside = join(source, `model.lora-${cacheKey}.onnx`);
        writeFileSync(beside, bytes);
        return beside;
      } catch {
        for (const l of locations) if (!existsSync(join(dir, l))) copyFileSync(resolve(source, l), join(dir, l));
      }
    }
    writeFileSync(join(dir, 'model.onnx'), bytes);
    return join(dir, 'model.onnx');
  };
  return { bytes: { unet: encode('unet'), text_encoder: encode('text_encoder') }, matchedLayers, unmatchedKeys };
}

/** Removes the files a merge wrote for one network (its folder under the temporary directory, or the model written
 * beside the original); model bytes and null need nothing. */
export function removeMergedFiles(merged: Uint8Array | string | null): void {
  if (typeof merged !== 'string') return;
  if (merged.startsWith(join(tmpdir(), 'farm-lora-merged'))) rmSync(dirname(merged), { recursive: true, force: true });
  else if (/^model\.lora-[0-9a-f]{16}\.onnx$/.test(basename(merged))) rmSync(merged, { force: true });
}
