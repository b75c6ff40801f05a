// Finds the weight a LoRA layer changes in an exported graph: torch.onnx.export stores a Linear as a MatMul whose
// second input is the transposed weight ([in, out]), in a node named after the module path.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from '../onnx/onnx-proto';
import { BadInputError } from '@farm/core';

export interface LinearWeight {
  initializer: onnx.ITensorProto;
  inFeatures: number;
  outFeatures: number;
}

export function loadModelProto(path: string): onnx.ModelProto {
  return onnx.ModelProto.decode(readFileSync(path));
}

export function usesExternalData(model: onnx.ModelProto): boolean {
  return (model.graph?.initializer ?? []).some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
}

/** "/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul" -> "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q" */
export function modulePathOfNode(name: string): string | null {
  const m = /^\/(.+)\/MatMul$/.exec(name);
  return m ? m[1].replace(/\//g, '.') : null;
}

export function linearWeights(model: onnx.ModelProto): Map<string, LinearWeight> {
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name!, t]));
  const out = new Map<string, LinearWeight>();
  for (const node of model.graph?.node ?? []) {
    if (node.opType !== 'MatMul') continue;
    const module = modulePathOfNode(node.name ?? '');
    const init = inits.get(node.input?.[1] ?? '');
    if (!module || !init || init.dims?.length !== 2) continue;
    out.set(module, { initializer: init, inFeatures: Number(init.dims[0]), outFeatures: Number(init.dims[1]) });
  }
  return out;
}

function externalEntry(t: onnx.ITensorProto, key: string): string | undefined {
  return t.externalData?.find((e) => e.key === key)?.value ?? undefined;
}

/** Reads an initializer's float32 values, from raw_data, float_data or its external data file beside the model. */
export function readFloats(t: onnx.ITensorProto, modelDir?: string): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT)
    throw new BadInputError(`initializer ${t.name} is not float32 (fp16 models are not supported for LoRA merging yet)`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    if (!modelDir) throw new Error(`initializer ${t.name} is external data; the model's folder is needed to read it`);
    const location = externalEntry(t, 'location');
    const offset = Number(externalEntry(t, 'offset') ?? 0);
    const count = (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
    const out = new Float32Array(count);
    const fd = openSync(join(modelDir, location!), 'r');
    try {
      readSync(fd, new Uint8Array(out.buffer), 0, count * 4, offset);
    } finally {
      closeSync(fd);
    }
    return out;
  }
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}
