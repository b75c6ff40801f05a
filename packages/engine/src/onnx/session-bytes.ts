// What a session's weights weigh in memory: the initializers it loads, inline or external. Read from the model file
// before the session exists, so the cache can make room first. Pure apart from reading the file it is given.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { onnx } from './onnx-proto';

const T = onnx.TensorProto.DataType;
const ELEMENT_BYTES: Partial<Record<number, number>> = {
  [T.FLOAT]: 4,
  [T.FLOAT16]: 2,
  [T.BFLOAT16]: 2,
  [T.DOUBLE]: 8,
  [T.INT64]: 8,
  [T.UINT64]: 8,
  [T.INT32]: 4,
  [T.UINT32]: 4,
  [T.INT16]: 2,
  [T.UINT16]: 2,
  [T.INT8]: 1,
  [T.UINT8]: 1,
  [T.BOOL]: 1,
};

/** Bytes of one initializer's values (an external one: its `length` entry, else its element count x size). */
export function initializerBytes(t: onnx.ITensorProto): number {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const length = t.externalData?.find((e) => e.key === 'length')?.value;
    if (length) return Number(length);
    return (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1) * (ELEMENT_BYTES[t.dataType ?? 0] ?? 4);
  }
  if (t.rawData && t.rawData.length > 0) return t.rawData.length;
  const count = (t.floatData?.length ?? 0) + (t.int64Data?.length ?? 0) + (t.int32Data?.length ?? 0) + (t.doubleData?.length ?? 0);
  return count * (ELEMENT_BYTES[t.dataType ?? 0] ?? 4);
}

/** Weight bytes of a decoded model's external initializers (the inline ones are in the file's size). */
export function externalWeightBytes(model: onnx.ModelProto): number {
  return (model.graph?.initializer ?? []).reduce((sum, t) => sum + (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL ? initializerBytes(t) : 0), 0);
}

/**
 * A model file's weight bytes. A file past `decodeLimit` holds its weights inline (graphs alone are small), so its
 * size is the answer; a smaller one is decoded to add the external data it names (only the ranges it uses: a
 * LoRA-merged graph names its merged tensors in a file of its own and the rest in the original weights file).
 */
export function modelFileBytes(path: string, decodeLimit = 256 * 1024 * 1024): number {
  const size = statSync(path).size;
  if (size > decodeLimit) return size;
  const bytes = new Uint8Array(size);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < size) done += readSync(fd, bytes, done, size - done, done);
  } finally {
    closeSync(fd);
  }
  return size + externalWeightBytes(onnx.ModelProto.decode(bytes));
}

/** Bytes of what a session is created from: model bytes (weights inline) or a model file. */
export function sourceBytes(source: string | Uint8Array): number {
  return typeof source === 'string' ? modelFileBytes(source) : source.byteLength;
}
