// Serializes a built graph. Weights go inline, or (for models past protobuf's 2 GB limit) into an external data file
// beside model.onnx, written tensor by tensor.
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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

/**
 * A float16 graph (the `gpu` flavour): float32 graph inputs are cast to float16 where they enter and float32
 * outputs are cast back where they leave, so callers feed and read float32 whichever flavour runs.
 */
function float16Edges(graph: BuiltGraph): onnx.INodeProto[] {
  const { builder } = graph;
  const isFloat = (v: onnx.IValueInfoProto) => v.type?.tensorType?.elemType === DataType.FLOAT;
  const rename = new Map<string, string>();
  const casts: onnx.INodeProto[] = [];
  const cast = (input: string, output: string, to: number) => ({
    opType: 'Cast',
    name: `/Cast_${output}`,
    input: [input],
    output: [output],
    attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to }],
  });
  for (const input of graph.inputs) {
    if (!isFloat(input) || builder.keepFloat32.has(input.name!)) continue;
    rename.set(input.name!, `${input.name}_fp16`);
    casts.push(cast(input.name!, `${input.name}_fp16`, DataType.FLOAT16));
  }
  for (const n of builder.nodes) n.input = n.input!.map((i) => rename.get(i) ?? i);
  const outputs = new Map(graph.outputs.filter(isFloat).map((o) => [o.name!, `${o.name}_fp16`]));
  for (const n of builder.nodes) {
    n.output = n.output!.map((o) => outputs.get(o) ?? o);
    n.input = n.input!.map((i) => outputs.get(i) ?? i);
  }
  return [...casts, ...[...outputs].map(([name, half]) => cast(half, name, DataType.FLOAT))];
}

export function writeOnnxModel(path: string, name: string, graph: BuiltGraph, opts: { externalData: boolean; fp16Weights?: boolean; float16?: boolean }): void {
  // model.onnx keeps weights.pb; another flavour's file (model.gpu.onnx) gets weights.gpu.pb
  const externalFile = basename(path)
    .replace(/^model/, 'weights')
    .replace(/\.onnx$/, '.pb');
  const edges = opts.float16 ? float16Edges(graph) : [];
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
      if (opts.float16 && data instanceof Float32Array && !graph.builder.keepFloat32.has(init.name)) {
        bytes = bytesOf(toFloat16Array(data));
        dataType = DataType.FLOAT16;
      } else if (opts.fp16Weights && data instanceof Float32Array && data.length >= FP16_MIN_ELEMENTS) {
        const stored = `${init.name}_fp16`;
        casts.push({
          opType: 'Cast',
          name: `/Cast_fp16_${casts.length}`,
          input: [stored],
          output: [init.name],
          attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }],
        });
        const half = toFloat16Array(data);
        bytes = new Uint8Array(half.buffer);
        dataType = DataType.FLOAT16;
        init = { ...init, name: stored };
      }
      if (fd === undefined || bytes.byteLength < 1024) return { name: init.name, dims: init.dims, dataType, rawData: bytes };
      writeSync(fd, bytes, 0, bytes.byteLength, offset);
      const entry: onnx.ITensorProto = {
        name: init.name,
        dims: init.dims,
        dataType,
        dataLocation: DataLocation.EXTERNAL,
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
      opsetImport: [
        { domain: '', version: 17 },
        ...(graph.builder.nodes.some((n) => n.domain === 'com.microsoft') ? [{ domain: 'com.microsoft', version: 1 }] : []),
      ],
      graph: { name, node: [...casts, ...edges, ...graph.builder.nodes], initializer, input: graph.inputs, output: graph.outputs },
    });
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function parameterCount(graph: BuiltGraph): number {
  return graph.builder.initializers.reduce((n, i) => n + i.dims.reduce((a, b) => a * b, 1), 0);
}
