// Finds the weight a LoRA layer changes in an exported graph: torch.onnx.export stores a Linear as a MatMul whose
// second input is the transposed weight ([in, out]), in a node named after the module path.
import { readFileSync } from 'node:fs';
import { onnx } from '../onnx/onnx-proto';

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

export function readFloats(t: onnx.ITensorProto): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`initializer ${t.name} is not float32 (fp16 models are not supported for LoRA merging yet)`);
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}
