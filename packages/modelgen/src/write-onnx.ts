// Serializes a built graph. Weights go inline, or (for models past protobuf's 2 GB limit) into an external data file
// beside model.onnx, written tensor by tensor.
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { onnx } from '@farm/engine/onnx-proto';
import { initializerData, type GraphBuilder } from './onnx-builder';
import { toFloat16Array } from '@farm/core';

const { DataType, DataLocation } = onnx.TensorProto;

export interface BuiltGraph {
  builder: GraphBuilder;
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
}

function bytesOf(data: Float32Array | BigInt64Array | Uint16Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Weights stored as float16 get a Cast back to float32 under their original name, so IO and ops stay float32. */
const FP16_MIN_ELEMENTS = 256;

export function writeOnnxModel(path: string, name: string, graph: BuiltGraph, opts: { externalData: boolean; fp16Weights?: boolean }): void {
  const externalFile = 'weights.pb';
  let fd: number | undefined;
  let offset = 0;
  if (opts.externalData) fd = openSync(join(dirname(path), externalFile), 'w');
  try {
    const casts: onnx.INodeProto[] = [];
    const initializer = graph.builder.initializers.map((original): onnx.ITensorProto => {
      let init = original;
      // weights imported from a checkpoint are read here, one at a time, and dropped once written
      const data = initializerData(init);
      let dataType = data instanceof BigInt64Array ? DataType.INT64 : DataType.FLOAT;
      let bytes = bytesOf(data);
      if (opts.fp16Weights && data instanceof Float32Array && data.length >= FP16_MIN_ELEMENTS) {
        const stored = `${init.name}_fp16`;
        casts.push({ opType: 'Cast', name: `/Cast_fp16_${casts.length}`, input: [stored], output: [init.name], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }] });
        const half = toFloat16Array(data);
        bytes = new Uint8Array(half.buffer);
        dataType = DataType.FLOAT16;
        init = { ...init, name: stored };
      }
      if (fd === undefined || bytes.byteLength < 1024) return { name: init.name, dims: init.dims, dataType, rawData: bytes };
      writeSync(fd, bytes, 0, bytes.byteLength, offset);
      const entry: onnx.ITensorProto = {
        name: init.name, dims: init.dims, dataType, dataLocation: DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: externalFile },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ],
      };
      offset += bytes.byteLength;
      return entry;
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'sd-render-farm-modelgen',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name, node: [...casts, ...graph.builder.nodes], initializer, input: graph.inputs, output: graph.outputs },
    });
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function parameterCount(graph: BuiltGraph): number {
  return graph.builder.initializers.reduce((n, i) => n + i.dims.reduce((a, b) => a * b, 1), 0);
}
