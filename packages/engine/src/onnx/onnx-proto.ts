// onnx-proto is CommonJS without static named exports; this gives ESM code the `onnx` namespace as value and type.
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const onnx: typeof OnnxTypes = (onnxProto as unknown as { onnx: typeof OnnxTypes }).onnx;
export declare namespace onnx {
  export type IValueInfoProto = OnnxTypes.IValueInfoProto;
  export type INodeProto = OnnxTypes.INodeProto;
  export type ITensorProto = OnnxTypes.ITensorProto;
  export type IAttributeProto = OnnxTypes.IAttributeProto;
  export type IModelProto = OnnxTypes.IModelProto;
  export type IGraphProto = OnnxTypes.IGraphProto;
  export type ModelProto = OnnxTypes.ModelProto;
}
