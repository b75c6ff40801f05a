// Builds the bytes of a network with LoRAs merged into its weights, for a new InferenceSession. The merge happens
// once per (model, LoRA set); denoising steps then cost exactly what they cost without LoRA.
import { createHash, randomUUID } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { UnknownLoraError, ValidationError, type LoraRef } from '@farm/core';
import { onnx } from '../onnx/onnx-proto';
import { readSafetensors } from './safetensors';
import { mapLoraKeys, type LoraTarget } from './lora-keys';
import { linearWeights, loadModelProto, readFloats, usesExternalData } from './onnx-weights';
import { addLoraDeltas, assertFinite, type LoraPart } from './merge';
import type { LoraInfo } from './registry';

const NETWORK_DIR: Record<LoraTarget, string> = { unet: 'unet', text_encoder: 'text_encoder' };

/** Merged network: model bytes (weights inline) or a model file path (large models, whose weights stay external). */
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
  // every LoRA's layers, grouped by the weight they change: each touched weight is read, merged and written once
  const byWeight = new Map<string, { target: LoraTarget; module: string; parts: LoraPart[] }>();
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
      const key = `${layer.target}:${layer.module}`;
      const entry = byWeight.get(key) ?? { target: layer.target, module: layer.module, parts: [] };
      entry.parts.push({ layer, multiplier: ref.weight });
      byWeight.set(key, entry);
    }
  }
  const merged: Record<LoraTarget, { tensor: onnx.ITensorProto; data: Float32Array }[]> = { unet: [], text_encoder: [] };
  for (const [key, { target, module, parts }] of byWeight) {
    const w = weights[target].get(module)!;
    const data = readFloats(w.initializer, join(modelPath, NETWORK_DIR[target])); // a copy: the original stays as it is
    addLoraDeltas(data, w.inFeatures, w.outFeatures, parts);
    assertFinite(data, key);
    merged[target].push({ tensor: w.initializer, data });
  }
  const cacheKey = createHash('sha256').update(resolve(modelPath)).update(JSON.stringify(loras)).digest('hex').slice(0, 16);
  const write = (t: LoraTarget): Uint8Array | string | null => {
    if (merged[t].length === 0) return null;
    if (!usesExternalData(protos[t])) {
      for (const { tensor, data } of merged[t]) setInline(tensor, data);
      return onnx.ModelProto.encode(protos[t]).finish();
    }
    return writeWithExternalData(protos[t], merged[t], join(modelPath, NETWORK_DIR[t]), join(tmpdir(), 'farm-lora-merged', cacheKey, NETWORK_DIR[t]), cacheKey);
  };
  return { bytes: { unet: write('unet'), text_encoder: write('text_encoder') }, matchedLayers, unmatchedKeys };
}

function setInline(tensor: onnx.ITensorProto, data: Float32Array): void {
  tensor.rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  tensor.floatData = [];
  tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  tensor.externalData = [];
}

const PAGE = 4096;

/**
 * A large model: the merged tensors go to an external data file of their own and every other tensor stays in the
 * original weights, which are not copied. onnxruntime only reads external data from the model's own folder (symlinks
 * are resolved and refused), so the original weights file is hard-linked into a folder of ours when the filesystem
 * allows, else the merged model is written beside the original, else (read-only, another filesystem) the weights are
 * copied. Tensors start on page boundaries so onnxruntime can map them. Returns the merged model's path.
 */
function writeWithExternalData(
  proto: onnx.ModelProto,
  merged: { tensor: onnx.ITensorProto; data: Float32Array }[],
  source: string,
  dir: string,
  cacheKey: string,
): string {
  const locations = [
    ...new Set((proto.graph?.initializer ?? []).flatMap((i) => (i.externalData ?? []).filter((e) => e.key === 'location').map((e) => e.value!))),
  ];
  let modelFile = join(dir, 'model.onnx');
  let dataName = 'lora-merged.bin';
  mkdirSync(dir, { recursive: true });
  try {
    for (const l of locations) if (!existsSync(join(dir, l))) linkSync(resolve(source, l), join(dir, l));
  } catch {
    if (canWrite(source)) {
      modelFile = join(source, `model.lora-${cacheKey}.onnx`);
      dataName = `model.lora-${cacheKey}.bin`;
    } else {
      for (const l of locations) if (!existsSync(join(dir, l))) copyFileSync(resolve(source, l), join(dir, l));
    }
  }
  // written under a temporary name and renamed into place: a live session of the same merge (the prompt-embedding
  // path merges the text encoder again) may have the previous file mapped, and truncating it would pull its pages
  const dataFile = join(dirname(modelFile), dataName);
  const partial = `${dataFile}.${process.pid}.${randomUUID().slice(0, 8)}.partial`;
  const fd = openSync(partial, 'w');
  try {
    let offset = 0;
    for (const { tensor, data } of merged) {
      offset = Math.ceil(offset / PAGE) * PAGE;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done, offset + done);
      tensor.rawData = new Uint8Array(0);
      tensor.floatData = [];
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ];
      offset += bytes.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  renameSync(partial, dataFile);
  writeFileSync(`${partial}.onnx`, onnx.ModelProto.encode(proto).finish());
  renameSync(`${partial}.onnx`, modelFile);
  return modelFile;
}

function canWrite(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Removes the files a merge wrote for one network (its folder under the temporary directory, or the model written
 * beside the original); model bytes and null need nothing. */
export function removeMergedFiles(merged: Uint8Array | string | null): void {
  if (typeof merged !== 'string') return;
  if (merged.startsWith(join(tmpdir(), 'farm-lora-merged'))) rmSync(dirname(merged), { recursive: true, force: true });
  else if (/^model\.lora-[0-9a-f]{16}\.onnx$/.test(basename(merged))) {
    rmSync(merged, { force: true });
    rmSync(merged.replace(/\.onnx$/, '.bin'), { force: true });
  }
}
