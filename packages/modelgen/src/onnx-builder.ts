// A thin layer over onnx-proto that names things the way torch.onnx.export of diffusers does:
// node names are module paths (`/down_blocks.0/resnets.0/conv1/Conv`), Linear weights are transposed
// `onnx::MatMul_<n>` initializers, other parameters keep their dotted module names.
import { onnx } from '@farm/engine/onnx-proto';
import { SeededRandom } from './seeded-random';

const { AttributeType } = onnx.AttributeProto;

export type AttrValue = number | number[] | string;
export type Dim = number | string;

export interface Initializer {
  name: string;
  dims: number[];
  /** float32 values, or int64 values for shape constants (empty when `load` supplies them) */
  data: Float32Array | BigInt64Array;
  /** weights from a checkpoint are read when the model is written, one tensor at a time */
  load?: () => Float32Array;
}

/** The values of an initializer, reading them from their source when they are loaded lazily. */
export function initializerData(init: Initializer): Float32Array | BigInt64Array {
  return init.load ? init.load() : init.data;
}

/** Where a network's weights come from when they are not drawn at random: tensors by their diffusers/transformers
 * parameter name (`down_blocks.0.resnets.0.conv1.weight`), in torch's layout (Linear weights [out, in]). */
export interface WeightSource {
  read(key: string, count: number): Float32Array;
}

/** A learned parameter of the graph: its initializer, the torch parameter it is, and that parameter's torch shape. */
export interface WeightEntry {
  initializer: string;
  key: string;
  shape: number[];
  /** stored transposed ([in, out]) in the graph, as torch.onnx.export stores Linear weights */
  transposed: boolean;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function attribute(name: string, value: AttrValue): onnx.IAttributeProto {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  return Number.isInteger(value) && !Object.is(value, -0) ? { name, type: AttributeType.INT, i: value } : { name, type: AttributeType.FLOAT, f: value };
}

export function valueInfo(name: string, elemType: number, shape: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/**
 * The graph flavour being built. `portable` (both false) runs on every execution provider. `gpu` (both true) is
 * for onnxruntime's CUDA/TensorRT providers: attention as com.microsoft.MultiHeadAttention (flash / memory-efficient
 * attention there), weights and activations in float16 (IO stays float32 through Casts at the graph's edges; the
 * timestep's sinusoid stays float32). Fused attention alone (fp32) also runs on CPU, which is how tests check it.
 */
export interface GraphFlavour {
  fusedAttention: boolean;
  float16: boolean;
}
export const PORTABLE: GraphFlavour = { fusedAttention: false, float16: false };

export class GraphBuilder {
  flavour: GraphFlavour = PORTABLE;
  /** initializers and graph inputs that stay float32 in a float16 graph */
  readonly keepFloat32 = new Set<string>();
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: Initializer[] = [];
  private matmulCounter = 0;
  private tmpCounter = 0;
  private readonly constants = new Map<string, string>();

  /** Module paths of the Linear layers, in graph order. */
  readonly linearModules: string[] = [];
  /** Every learned parameter, in graph order (checkpoint export and import key on these). */
  readonly weights: WeightEntry[] = [];

  /** dryRun builds the graph structure without drawing the large random weights (for listing modules).
   * With a `source`, learned parameters come from it (lazily) instead of the random generator. */
  constructor(
    readonly rng: SeededRandom,
    private readonly dryRun = false,
    private readonly source?: WeightSource,
  ) {}

  /** A module path `down_blocks.0.resnets.0` -> node prefix `/down_blocks.0/resnets.0`. */
  static scope(path: string): string {
    return path
      ? '/' +
          path
            .split('.')
            .reduce<string[]>((acc, part) => {
              if (/^\d+$/.test(part) && acc.length > 0) acc[acc.length - 1] += '.' + part;
              else acc.push(part);
              return acc;
            }, [])
            .join('/')
      : '';
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name?: string, outputs = 1, domain?: string): string {
    const nodeName = name ?? `/${opType}_${this.tmpCounter++}`;
    const outs = Array.from({ length: outputs }, (_, i) => `${nodeName}_output_${i}`);
    this.nodes.push({
      opType,
      name: nodeName,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      ...(domain ? { domain } : {}),
    });
    return outs[0];
  }

  opMulti(opType: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}, name?: string): string[] {
    const nodeName = name ?? `/${opType}_${this.tmpCounter++}`;
    const outs = Array.from({ length: outputs }, (_, i) => `${nodeName}_output_${i}`);
    this.nodes.push({ opType, name: nodeName, input: inputs, output: outs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outs;
  }

  /** Renames the last node's first output (graph outputs need their exact names). */
  renameOutput(from: string, to: string): void {
    for (const n of this.nodes) {
      n.output = n.output!.map((o) => (o === from ? to : o));
      n.input = n.input!.map((i) => (i === from ? to : i));
    }
  }

  param(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dims, data });
    return name;
  }

  randomParam(name: string, dims: number[], std: number): string {
    return this.learned(name, dims, () =>
      this.rng.normal(
        dims.reduce((a, b) => a * b, 1),
        std,
      ),
    );
  }

  /** A learned parameter: drawn by `random` (in graph order, so generated models keep their bytes), or read from
   * the weight source under its torch name `key` (torch shape `shape`; `transposed` for Linear weights). */
  learned(name: string, dims: number[], random: () => Float32Array, key = name, shape = dims, transposed = false): string {
    this.weights.push({ initializer: name, key, shape, transposed });
    if (this.dryRun) return this.param(name, dims, new Float32Array(0));
    if (!this.source) return this.param(name, dims, random());
    const source = this.source;
    const count = dims.reduce((a, b) => a * b, 1);
    this.initializers.push({
      name,
      dims,
      data: new Float32Array(0),
      load: () => (transposed ? transpose(source.read(key, count), shape[0], shape[1]) : source.read(key, count)),
    });
    return name;
  }

  filled(name: string, dims: number[], value: number): string {
    return this.param(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value));
  }

  /** An int64 constant (shapes, axes), shared by value. */
  ints(values: number[]): string {
    const key = values.join(',');
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = `onnx::Constant_i64_${this.constants.size}`;
    this.initializers.push({ name, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
    this.constants.set(key, name);
    return name;
  }

  scalar(value: number): string {
    const key = `f:${value}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = `onnx::Constant_f32_${this.constants.size}`;
    this.initializers.push({ name, dims: [], data: Float32Array.of(value) });
    this.constants.set(key, name);
    return name;
  }

  /** torch Linear exported as MatMul (+ Add): weight stored transposed [in, out]. */
  linear(x: string, path: string, inDim: number, outDim: number, opts: { bias?: boolean; gain?: number } = {}): string {
    const scope = GraphBuilder.scope(path);
    this.linearModules.push(path);
    const std = (opts.gain ?? 1) / Math.sqrt(inDim);
    const w = this.learned(
      `onnx::MatMul_${this.matmulCounter++}`,
      [inDim, outDim],
      () => this.rng.normal(inDim * outDim, std),
      `${path}.weight`,
      [outDim, inDim],
      true,
    );
    let y = this.op('MatMul', [x, w], {}, `${scope}/MatMul`);
    if (opts.bias ?? true) {
      const b = this.randomParam(`${path}.bias`, [outDim], 0.02);
      y = this.op('Add', [y, b], {}, `${scope}/Add`);
    }
    return y;
  }

  /** `pads` ([top, left, bottom, right]) defaults to "same" padding. */
  conv(x: string, path: string, inCh: number, outCh: number, kernel: number, opts: { stride?: number; gain?: number; pads?: number[] } = {}): string {
    const pad = (kernel - 1) >> 1;
    const w = this.randomParam(`${path}.weight`, [outCh, inCh, kernel, kernel], (opts.gain ?? 1) / Math.sqrt(inCh * kernel * kernel));
    const b = this.randomParam(`${path}.bias`, [outCh], 0.02);
    return this.op(
      'Conv',
      [x, w, b],
      {
        kernel_shape: [kernel, kernel],
        pads: opts.pads ?? [pad, pad, pad, pad],
        strides: [opts.stride ?? 1, opts.stride ?? 1],
        dilations: [1, 1],
        group: 1,
      },
      `${GraphBuilder.scope(path)}/Conv`,
    );
  }

  /** GroupNorm as torch exports it: Reshape [B,G,-1] -> InstanceNormalization -> Reshape back -> affine. */
  groupNorm(x: string, path: string, channels: number, groups: number, eps = 1e-5): string {
    const scope = GraphBuilder.scope(path);
    const grouped = this.op('Reshape', [x, this.ints([0, groups, -1])], {}, `${scope}/Reshape`);
    const normed = this.op(
      'InstanceNormalization',
      [grouped, this.filled(`${path}.instnorm_scale`, [groups], 1), this.filled(`${path}.instnorm_bias`, [groups], 0)],
      { epsilon: eps },
      `${scope}/InstanceNormalization`,
    );
    const shape = this.op('Shape', [x], {}, `${scope}/Shape`);
    const back = this.op('Reshape', [normed, shape], {}, `${scope}/Reshape_1`);
    const gamma = this.learned(`${path}.weight`, [channels, 1, 1], () => Float32Array.from(this.rng.normal(channels, 0.05), (v) => 1 + v), `${path}.weight`, [
      channels,
    ]);
    const beta = this.learned(`${path}.bias`, [channels, 1, 1], () => this.rng.normal(channels, 0.05), `${path}.bias`, [channels]);
    return this.op('Add', [this.op('Mul', [back, gamma], {}, `${scope}/Mul`), beta], {}, `${scope}/Add`);
  }

  layerNorm(x: string, path: string, dim: number, eps = 1e-5): string {
    const gamma = this.learned(`${path}.weight`, [dim], () => Float32Array.from(this.rng.normal(dim, 0.05), (v) => 1 + v));
    const beta = this.randomParam(`${path}.bias`, [dim], 0.05);
    return this.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: eps }, `${GraphBuilder.scope(path)}/LayerNormalization`);
  }

  silu(x: string, path: string): string {
    const scope = GraphBuilder.scope(path);
    return this.op('Mul', [x, this.op('Sigmoid', [x], {}, `${scope}/Sigmoid`)], {}, `${scope}/Mul`);
  }

  gelu(x: string, path: string): string {
    const scope = GraphBuilder.scope(path);
    const erf = this.op('Erf', [this.op('Div', [x, this.scalar(Math.SQRT2)], {}, `${scope}/Div`)], {}, `${scope}/Erf`);
    const onePlus = this.op('Add', [erf, this.scalar(1)], {}, `${scope}/Add`);
    return this.op('Mul', [this.op('Mul', [x, onePlus], {}, `${scope}/Mul`), this.scalar(0.5)], {}, `${scope}/Mul_1`);
  }

  quickGelu(x: string, path: string): string {
    const scope = GraphBuilder.scope(path);
    const s = this.op('Sigmoid', [this.op('Mul', [x, this.scalar(1.702)], {}, `${scope}/Mul`)], {}, `${scope}/Sigmoid`);
    return this.op('Mul', [x, s], {}, `${scope}/Mul_1`);
  }

  tmp(prefix: string): string {
    return `${prefix}_${this.tmpCounter++}`;
  }
}
