// safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, raw data.
import { readFileSync } from 'node:fs';
import { fromFloat16Bits, toFloat16Bits } from '@farm/core';

export interface Tensor { dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; data: Float32Array }

export function parseSafetensors(buf: Buffer): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new Error('not a safetensors file: too short');
  const headerLength = Number(buf.readBigUInt64LE(0));
  if (headerLength > buf.length - 8) throw new Error('not a safetensors file: header length past the end');
  const header = JSON.parse(buf.toString('utf8', 8, 8 + headerLength)) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  const base = 8 + headerLength;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = info as Record<string, string>; continue; }
    const { dtype, shape, data_offsets: [start, end] } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const bytes = buf.subarray(base + start, base + end);
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (dtype === 'F32') for (let i = 0; i < n; i++) data[i] = bytes.readFloatLE(i * 4);
    else if (dtype === 'F16') for (let i = 0; i < n; i++) data[i] = fromFloat16Bits(bytes.readUInt16LE(i * 2));
    else if (dtype === 'BF16') for (let i = 0; i < n; i++) data[i] = new Float32Array(new Uint32Array([bytes.readUInt16LE(i * 2) << 16]).buffer)[0];
    else throw new Error(`tensor ${name}: unsupported dtype ${dtype} (F32, F16 and BF16 are)`);
    tensors.set(name, { dtype, shape, data } as Tensor);
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string) {
  return parseSafetensors(readFileSync(path));
}

export function writeSafetensors(tensors: Record<string, { dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; data: Float32Array }>, metadata: Record<string, string> = {}): Buffer {
  const parts: Buffer[] = [];
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const size = t.dtype === 'F32' ? 4 : 2;
    const b = Buffer.alloc(t.data.length * size);
    t.data.forEach((v, i) => {
      if (t.dtype === 'F32') b.writeFloatLE(v, i * 4);
      else if (t.dtype === 'F16') b.writeUInt16LE(toFloat16Bits(v), i * 2);
      else b.writeUInt16LE(new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16, i * 2);
    });
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + b.length] };
    offset += b.length;
    parts.push(b);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...parts]);
}
