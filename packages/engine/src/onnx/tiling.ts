// Tiling (seamless textures), as A1111 does it: every Conv2d of the UNet and the VAE pads circularly (torch's
// padding_mode='circular'), so the image wraps around at its edges. ONNX Conv only pads with zeros, so the loaded
// graph is rewritten: before each Conv with symmetric padding, the input is wrapped with Slice + Concat (its last p
// columns before it, its first p after; then the same for rows) and the Conv's own pads are set to 0.
// Why not Pad mode=wrap: it exists from opset 19 only, and generated models (17) and SD exports (14-17) would need
// their opset raised, which changes other operators (ReduceMean's axes became an input in 18). Slice and Concat mean
// the same in every opset from 13 on. Asymmetric pads (the VAE encoder's downsamplers: diffusers pads right and
// bottom with zeros by F.pad, then convolves without padding) stay zero pads, as they do in A1111.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { onnx } from './onnx-proto';

const INT64_MAX = 2n ** 63n - 1n;

function int64Tensor(name: string, values: bigint[]): onnx.ITensorProto {
  const data = new BigInt64Array(values);
  return { name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) };
}

/** Rewrites every symmetrically padded 2-D Conv of `model` to pad circularly; returns how many it changed. */
export function makeConvsCircular(model: onnx.ModelProto): number {
  const graph = model.graph!;
  const names = new Set([...(graph.initializer ?? []).map((t) => t.name), ...(graph.node ?? []).flatMap((n) => n.output ?? [])]);
  const unique = (base: string) => {
    let n = base;
    for (let i = 1; names.has(n); i++) n = `${base}_${i}`;
    names.add(n);
    return n;
  };
  const constants = new Map<string, string>();
  const constant = (values: bigint[]) => {
    const key = values.join(',');
    if (!constants.has(key)) {
      const name = unique(`tiling/const_${key.replace(/-/g, 'm').replace(/,/g, '_')}`);
      graph.initializer!.push(int64Tensor(name, values));
      constants.set(key, name);
    }
    return constants.get(key)!;
  };
  const out: onnx.INodeProto[] = [];
  let changed = 0;
  for (const node of graph.node ?? []) {
    const pads = node.opType === 'Conv' && (node.domain ?? '') === '' ? node.attribute?.find((a) => a.name === 'pads') : undefined;
    const autoPad = node.attribute?.find((a) => a.name === 'auto_pad');
    const p = pads?.ints?.map(Number) ?? [];
    const symmetric = p.length === 4 && p[0] === p[2] && p[1] === p[3] && (p[0] > 0 || p[1] > 0);
    if (!symmetric || (autoPad && Buffer.from(autoPad.s ?? []).toString() !== 'NOTSET')) {
      out.push(node);
      continue;
    }
    const [ph, pw] = [p[0], p[1]];
    let x = node.input![0];
    // width (axis 3) first, then height (axis 2): the corners come out as torch's circular pad makes them
    for (const [axis, pad] of [
      [3, pw],
      [2, ph],
    ] as const) {
      if (pad === 0) continue;
      const base = `${node.name || node.output![0]}/tiling_${axis === 3 ? 'w' : 'h'}`;
      const tail = unique(`${base}/tail`);
      const head = unique(`${base}/head`);
      const joined = unique(`${base}/wrapped`);
      out.push({ opType: 'Slice', name: tail, input: [x, constant([BigInt(-pad)]), constant([INT64_MAX]), constant([BigInt(axis)])], output: [tail] });
      out.push({ opType: 'Slice', name: head, input: [x, constant([0n]), constant([BigInt(pad)]), constant([BigInt(axis)])], output: [head] });
      out.push({
        opType: 'Concat',
        name: joined,
        input: [tail, x, head],
        output: [joined],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }],
      });
      x = joined;
    }
    node.input![0] = x;
    pads!.ints = [0, 0, 0, 0];
    out.push(node);
    changed++;
  }
  graph.node = out;
  return changed;
}

const usesExternalData = (m: onnx.ModelProto) => (m.graph?.initializer ?? []).some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);

/**
 * The circular-padding variant of the model file `path`, for a session: the model's bytes when its weights are
 * inline, else a model file in a folder of our own beside hard links to its weight files (onnxruntime reads external
 * data only from the model's folder and refuses symlinks), copies where links cannot be made.
 */
export function tiledModelSource(path: string): Uint8Array | string {
  const model = onnx.ModelProto.decode(readFileSync(path));
  makeConvsCircular(model);
  const bytes = onnx.ModelProto.encode(model).finish();
  if (!usesExternalData(model)) return bytes;
  const dir = join(tmpdir(), 'farm-tiled', createHash('sha256').update(resolve(path)).digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true });
  const locations = new Set((model.graph?.initializer ?? []).flatMap((t) => (t.externalData ?? []).filter((e) => e.key === 'location').map((e) => e.value!)));
  for (const l of locations) {
    const to = join(dir, l);
    if (existsSync(to)) continue;
    mkdirSync(dirname(to), { recursive: true });
    try {
      linkSync(resolve(dirname(path), l), to);
    } catch {
      copyFileSync(resolve(dirname(path), l), to);
    }
  }
  writeFileSync(join(dir, 'model.onnx'), bytes);
  return join(dir, 'model.onnx');
}

/** Removes the folder tiledModelSource wrote for a large model (when its session is released). */
export function removeTiledFiles(source: Uint8Array | string): void {
  if (typeof source === 'string') rmSync(dirname(source), { recursive: true, force: true });
}
