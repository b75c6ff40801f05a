// safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, raw data.
// Whole-buffer parse/write for LoRAs, and a streaming file reader/writer (one tensor at a time, positioned reads)
// for checkpoints too large to hold: the one home of the format.
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { fromFloat16Bits, toFloat16Bits } from '@farm/core';

export type Dtype = 'F32' | 'F16' | 'BF16';
export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: Float32Array;
}
export interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const MAX_HEADER = 100 * 1024 * 1024;
const elementSize = (dtype: string) => (dtype === 'F32' ? 4 : dtype === 'F16' || dtype === 'BF16' ? 2 : 0);
let halfTable: Float32Array | undefined;

function parseHeader(lengthBytes: Buffer, readJson: (length: number) => string, total: number) {
  if (total < 8) throw new Error('not a safetensors file: too short');
  const headerLength = Number(lengthBytes.readBigUInt64LE(0));
  if (headerLength > total - 8 || headerLength > MAX_HEADER) throw new Error('not a safetensors file: header length past the end');
  let header: Record<string, TensorInfo | Record<string, string>>;
  try {
    header = JSON.parse(readJson(headerLength));
  } catch {
    throw new Error('not a safetensors file: the header is not JSON');
  }
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as Record<string, string>;
      continue;
    }
    const t = info as TensorInfo;
    if (!Array.isArray(t.shape) || !Array.isArray(t.data_offsets) || t.data_offsets[1] < t.data_offsets[0] || 8 + headerLength + t.data_offsets[1] > total) {
      throw new Error(`not a safetensors file: tensor ${name} lies outside the file`);
    }
    tensors.set(name, t);
  }
  return { base: 8 + headerLength, tensors, metadata };
}

/** Little-endian F32/F16/BF16 bytes as float32 values. */
export function decodeTensor(name: string, dtype: string, bytes: Uint8Array, count: number): Float32Array {
  const size = elementSize(dtype);
  if (size === 0) throw new Error(`tensor ${name}: unsupported dtype ${dtype} (F32, F16 and BF16 are)`);
  if (bytes.byteLength !== count * size) throw new Error(`tensor ${name}: ${bytes.byteLength} bytes for ${count} ${dtype} values`);
  const aligned = new Uint8Array(bytes); // a copy, so the typed views below are aligned
  if (dtype === 'F32') return new Float32Array(aligned.buffer);
  const bits = new Uint16Array(aligned.buffer);
  if (dtype === 'BF16') {
    const out = new Uint32Array(count);
    for (let i = 0; i < count; i++) out[i] = bits[i] << 16;
    return new Float32Array(out.buffer);
  }
  halfTable ??= Float32Array.from({ length: 65536 }, (_, b) => fromFloat16Bits(b));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = halfTable[bits[i]];
  return out;
}

function encodeTensor(dtype: Dtype, data: Float32Array): Buffer {
  if (dtype === 'F32') return Buffer.from(new Float32Array(data).buffer);
  const out = new Uint16Array(data.length);
  if (dtype === 'F16') for (let i = 0; i < data.length; i++) out[i] = toFloat16Bits(data[i]);
  else {
    const u = new Uint32Array(new Float32Array(data).buffer);
    for (let i = 0; i < data.length; i++) out[i] = u[i] >>> 16;
  }
  return Buffer.from(out.buffer);
}

export function parseSafetensors(buf: Buffer): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const { base, tensors: infos, metadata } = parseHeader(buf.subarray(0, 8), (n) => buf.toString('utf8', 8, 8 + n), buf.length);
  const tensors = new Map<string, Tensor>();
  for (const [
    name,
    {
      dtype,
      shape,
      data_offsets: [start, end],
    },
  ] of infos) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { dtype, shape, data: decodeTensor(name, dtype, buf.subarray(base + start, base + end), n) } as Tensor);
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string) {
  return parseSafetensors(readFileSync(path));
}

function headerBytes(entries: { name: string; dtype: Dtype; shape: number[] }[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of entries) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * elementSize(t.dtype);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json)]);
}

export function writeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Buffer {
  const entries = Object.entries(tensors).map(([name, t]) => ({ name, ...t }));
  return Buffer.concat([headerBytes(entries, metadata), ...entries.map((t) => encodeTensor(t.dtype, t.data))]);
}

/** Writes tensors one at a time: `data()` is called for each in order and its values dropped once written. */
export function writeSafetensorsFile(
  path: string,
  entries: { name: string; dtype: Dtype; shape: number[]; data: () => Float32Array }[],
  metadata: Record<string, string> = {},
): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, headerBytes(entries, metadata));
    for (const t of entries) {
      const data = t.data();
      if (data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${t.name}: ${data.length} values for shape [${t.shape}]`);
      writeSync(fd, encodeTensor(t.dtype, data));
    }
  } finally {
    closeSync(fd);
  }
}

/** A safetensors file read lazily: the header at open, each tensor by a positioned read when asked for. */
export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  private readonly base: number;
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      const total = fstatSync(this.fd).size;
      const first = Buffer.alloc(8);
      readSync(this.fd, first, 0, Math.min(8, total), 0);
      const fd = this.fd;
      const parsed = parseHeader(
        first,
        (n) => {
          const json = Buffer.alloc(n);
          readSync(fd, json, 0, n, 8);
          return json.toString('utf8');
        },
        total,
      );
      this.tensors = parsed.tensors;
      this.metadata = parsed.metadata;
      this.base = parsed.base;
    } catch (e) {
      this.close();
      throw new Error(`${path}: ${(e as Error).message}`);
    }
  }

  shape(name: string): number[] | undefined {
    return this.tensors.get(name)?.shape;
  }

  read(name: string): Float32Array {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.path} has no tensor ${name}`);
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    const [start, end] = info.data_offsets;
    const bytes = Buffer.alloc(end - start);
    let done = 0;
    while (done < bytes.length) done += readSync(this.fd, bytes, done, bytes.length - done, this.base + start + done);
    return decodeTensor(
      name,
      info.dtype,
      bytes,
      info.shape.reduce((a, b) => a * b, 1),
    );
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
