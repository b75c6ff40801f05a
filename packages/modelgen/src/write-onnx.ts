// Serializes a built graph. Weights go inline, or (for models past protobuf's 2 GB limit) into an external data file
// beside model.onnx, written tensor by tensor.
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { onnx } from '@farm/engine/onnx-proto';
import type { GraphBuilder, Initializer } from './onnx-builder';

const { DataType, DataLocation } = onnx.TensorProto;

export interface BuiltGraph {
  builder: GraphBuilder;
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
}

function bytesOf(init: Initializer): Uint8Array {
  return new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
}

export function writeOnnxModel(path: string, name: string, graph: BuiltGraph, opts: { externalData: boolean }): void {
  const externalFile = 'weights.pb';
  let fd: number | undefined;
  let offset = 0;
  if (opts.externalData) fd = openSync(join(dirname(path), externalFile), 'w');
  try {
    const initializer = graph.builder.initializers.map((init): onnx.ITensorProto => {
      const dataType = init.data instanceof BigInt64Array ? DataType.INT64 : DataType.FLOAT;
      const bytes = bytesOf(init);
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
      graph: { name, node: graph.builder.nodes, initializer, input: graph.inputs, output: graph.outputs },
    });
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function parameterCount(graph: BuiltGraph): number {
  return graph.builder.initializers.reduce((n, i) => n + i.data.length, 0);
}
