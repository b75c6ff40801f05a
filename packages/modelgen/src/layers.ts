// The building blocks shared by the UNet, the ControlNet, the VAE and the text encoder, in diffusers' module layout.
import { onnx } from '@farm/engine/onnx-proto';
import { ATTENTION_SLICE_INITIALIZER, toFloat16Array } from '@farm/core';
import { GraphBuilder } from './onnx-builder';

/** Multi-head attention over [B, S, C] with an optional context [B, T, Cctx] (cross-attention). */
export function attention(
  g: GraphBuilder,
  x: string,
  path: string,
  dim: number,
  heads: number,
  opts: {
    context?: string;
    contextDim?: number;
    mask?: string;
    /** the mask as [1, 1, S, T] for fused attention */ fusedMask?: string;
    names?: [string, string, string, string];
    outBias?: boolean;
    qkvBias?: boolean;
  } = {},
): string {
  const [q, k, v, out] = opts.names ?? ['to_q', 'to_k', 'to_v', 'to_out.0'];
  const scope = GraphBuilder.scope(path);
  const headDim = dim / heads;
  const ctx = opts.context ?? x;
  const ctxDim = opts.contextDim ?? dim;
  const qkvBias = opts.qkvBias ?? false;
  if (g.flavour.fusedAttention && (!opts.mask || opts.fusedMask)) {
    // the same projections (same weights, drawn in the same order), then one fused node: [B,S,C] x [B,T,C] -> [B,S,C]
    const qm = g.linear(x, `${path}.${q}`, dim, dim, { bias: qkvBias });
    const km = g.linear(ctx, `${path}.${k}`, ctxDim, dim, { bias: qkvBias });
    const vm = g.linear(ctx, `${path}.${v}`, ctxDim, dim, { bias: qkvBias });
    // inputs: query, key, value, bias, key_padding_mask, attention_bias ([1, 1, S, T], added to the scores)
    const inputs = opts.fusedMask ? [qm, km, vm, '', '', opts.fusedMask] : [qm, km, vm];
    const fused = g.op('MultiHeadAttention', inputs, { num_heads: heads }, `${scope}/MultiHeadAttention`, 1, 'com.microsoft');
    return g.linear(fused, `${path}.${out}`, dim, dim, { bias: opts.outBias ?? true, gain: 0.5 });
  }
  const split = (t: string, name: string, perm: number[]) =>
    g.op('Transpose', [g.op('Reshape', [t, g.ints([0, -1, heads, headDim])], {}, `${scope}/${name}/Reshape`)], { perm }, `${scope}/${name}/Transpose`);
  const qh = split(g.linear(x, `${path}.${q}`, dim, dim, { bias: qkvBias }), q, [0, 2, 1, 3]);
  const kh = split(g.linear(ctx, `${path}.${k}`, ctxDim, dim, { bias: qkvBias }), k, [0, 2, 3, 1]);
  const vh = split(g.linear(ctx, `${path}.${v}`, ctxDim, dim, { bias: qkvBias }), v, [0, 2, 1, 3]);
  let attended: string;
  if (opts.mask) {
    let scores = g.op('Mul', [g.op('MatMul', [qh, kh], {}, `${scope}/MatMul`), g.scalar(1 / Math.sqrt(headDim))], {}, `${scope}/Mul`);
    scores = g.op('Add', [scores, opts.mask], {}, `${scope}/Add_mask`);
    const probs = g.op('Softmax', [scores], { axis: -1 }, `${scope}/Softmax`);
    attended = g.op('MatMul', [probs, vh], {}, `${scope}/MatMul_1`);
  } else {
    attended = slicedAttention(g, qh, kh, vh, 1 / Math.sqrt(headDim), scope);
  }
  const perToken = g.op('Transpose', [attended], { perm: [0, 2, 1, 3] }, `${scope}/Transpose`);
  const merged = g.op('Reshape', [perToken, g.ints([0, -1, dim])], {}, `${scope}/Reshape`);
  return g.linear(merged, `${path}.${out}`, dim, dim, { bias: opts.outBias ?? true, gain: 0.5 });
}

/**
 * The most elements one attention score matrix slice may have. Full attention over the pixels of a large image holds
 * [batch, heads, S, T] scores (S = T = h*w: 1 GiB per batch row and head at 1024x1024 on the tiny model), so
 * attention without a mask runs over slices of query rows, each slice's scores at most this many elements (64 MiB in
 * float32): memory stays bounded whatever the size. Rows are independent under the row-wise softmax, so the result is
 * the same as full attention. The engine reads it back (core's ATTENTION_SLICE_INITIALIZER) to
 * estimate peak memory.
 */
export const ATTENTION_SLICE_ELEMENTS = 1 << 24;

/**
 * softmax(q k * scale) v over [B, H, S, d] queries, [B, H, d, T] keys and [B, H, T, d] values, in slices of
 * rows = max(1, floor(ATTENTION_SLICE_ELEMENTS / (B * H * T))) query rows: an ONNX Loop of ceil(S / rows) iterations
 * (one when everything fits), each appending its slice's output to the carried result.
 */
function slicedAttention(g: GraphBuilder, qh: string, kh: string, vh: string, scale: number, scope: string): string {
  const { AttributeType } = onnx.AttributeProto;
  const I64 = onnx.TensorProto.DataType.INT64;
  const elem = g.flavour.float16 ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT;
  if (!g.initializers.some((i) => i.name === ATTENTION_SLICE_INITIALIZER)) {
    g.initializers.push({ name: ATTENTION_SLICE_INITIALIZER, dims: [1], data: BigInt64Array.of(BigInt(ATTENTION_SLICE_ELEMENTS)) });
  }
  const s = `${scope}/sliced`;
  const qShape = g.op('Shape', [qh], {}, `${s}/Shape_q`);
  const kShape = g.op('Shape', [kh], {}, `${s}/Shape_k`);
  const dim = (shape: string, i: number, name: string) => g.op('Gather', [shape, g.ints([i])], { axis: 0 }, `${s}/${name}`);
  const perRow = g.op('Mul', [g.op('Mul', [dim(qShape, 0, 'batch'), dim(qShape, 1, 'heads')], {}, `${s}/Mul_bh`), dim(kShape, 3, 'keys')], {}, `${s}/Mul_bht`);
  const rows = g.op('Max', [g.op('Div', [ATTENTION_SLICE_INITIALIZER, perRow], {}, `${s}/Div_rows`), g.ints([1])], {}, `${s}/Max_rows`);
  const queries = dim(qShape, 2, 'queries');
  const trips = g.op('Div', [g.op('Sub', [g.op('Add', [queries, rows], {}, `${s}/Add_trips`), g.ints([1])], {}, `${s}/Sub_trips`), rows], {}, `${s}/Div_trips`);
  const tripCount = g.op('Squeeze', [trips, g.ints([0])], {}, `${s}/Squeeze_trips`);
  const empty = g.op('Slice', [qh, g.ints([0]), g.ints([0]), g.ints([2])], {}, `${s}/Slice_empty`);
  // the body reads qh, kh, vh and rows from the outer scope; its constants are its own, so graph surgery that keeps
  // the initializers nodes name (the ControlNet split) keeps what the body needs
  const b = `${s}/body`;
  const node = (opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = []): onnx.INodeProto => ({
    opType,
    name: `${b}/${output}`,
    input,
    output: [`${b}/${output}`],
    attribute,
  });
  const out = (name: string) => `${b}/${name}`;
  const tensor = (name: string, type: number, rank: number): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: type, shape: { dim: Array.from({ length: rank }, () => ({})) } } },
  });
  const body: onnx.IGraphProto = {
    name: `${s}/body`,
    initializer: [
      { name: `${b}/axes`, dims: [1], dataType: I64, rawData: new Uint8Array(BigInt64Array.of(2n).buffer) },
      g.flavour.float16
        ? { name: `${b}/scale`, dims: [], dataType: elem, rawData: new Uint8Array(toFloat16Array(Float32Array.of(scale)).buffer) }
        : { name: `${b}/scale`, dims: [], dataType: elem, rawData: new Uint8Array(Float32Array.of(scale).buffer) },
    ],
    input: [tensor(`${b}/i`, I64, 0), tensor(`${b}/cond`, onnx.TensorProto.DataType.BOOL, 0), tensor(`${b}/acc`, elem, 4)],
    node: [
      node('Mul', [`${b}/i`, rows], 'start'),
      node('Add', [out('start'), rows], 'end'),
      node('Slice', [qh, out('start'), out('end'), `${b}/axes`], 'q'),
      node('MatMul', [out('q'), kh], 'scores'),
      node('Mul', [out('scores'), `${b}/scale`], 'scaled'),
      node('Softmax', [out('scaled')], 'probs', [{ name: 'axis', type: AttributeType.INT, i: -1 }]),
      node('MatMul', [out('probs'), vh], 'slice'),
      node('Concat', [`${b}/acc`, out('slice')], 'acc_out', [{ name: 'axis', type: AttributeType.INT, i: 2 }]),
      node('Identity', [`${b}/cond`], 'cond_out'),
    ],
    output: [tensor(out('cond_out'), onnx.TensorProto.DataType.BOOL, 0), tensor(out('acc_out'), elem, 4)],
  };
  const result = `${s}/Loop_output_0`;
  g.nodes.push({
    opType: 'Loop',
    name: `${s}/Loop`,
    input: [tripCount, '', empty],
    output: [result],
    attribute: [{ name: 'body', type: AttributeType.GRAPH, g: body }],
  });
  return result;
}

/** ResNet block with GroupNorm+SiLU, optional time-embedding projection and a 1x1 shortcut when channels change. */
export function resnet(g: GraphBuilder, x: string, path: string, inCh: number, outCh: number, groups: number, temb?: { value: string; dim: number }): string {
  const scope = GraphBuilder.scope(path);
  let h = g.conv(g.silu(g.groupNorm(x, `${path}.norm1`, inCh, groups), `${path}.nonlinearity`), `${path}.conv1`, inCh, outCh, 3);
  if (temb) {
    const t = g.linear(g.silu(temb.value, `${path}.time_nonlinearity`), `${path}.time_emb_proj`, temb.dim, outCh);
    h = g.op('Add', [h, g.op('Unsqueeze', [t, g.ints([2, 3])], {}, `${scope}/Unsqueeze`)], {}, `${scope}/Add_temb`);
  }
  h = g.conv(g.silu(g.groupNorm(h, `${path}.norm2`, outCh, groups), `${path}.nonlinearity_1`), `${path}.conv2`, outCh, outCh, 3, { gain: 0.5 });
  const shortcut = inCh === outCh ? x : g.conv(x, `${path}.conv_shortcut`, inCh, outCh, 1);
  return g.op('Add', [shortcut, h], {}, `${scope}/Add`);
}

/** [B, C, H, W] -> [B, H*W, C] */
export function toSequence(g: GraphBuilder, x: string, scope: string, channels: number): string {
  const flat = g.op('Reshape', [x, g.ints([0, channels, -1])], {}, `${scope}/Reshape_seq`);
  return g.op('Transpose', [flat], { perm: [0, 2, 1] }, `${scope}/Transpose_seq`);
}

/** [B, H*W, C] -> the shape of `like` ([B, C, H, W]) */
export function toImage(g: GraphBuilder, seq: string, like: string, scope: string): string {
  const t = g.op('Transpose', [seq], { perm: [0, 2, 1] }, `${scope}/Transpose_img`);
  return g.op('Reshape', [t, g.op('Shape', [like], {}, `${scope}/Shape_img`)], {}, `${scope}/Reshape_img`);
}

/** diffusers Transformer2DModel (SD1.5: conv proj_in/proj_out, one BasicTransformerBlock with GEGLU). */
export function transformer2d(
  g: GraphBuilder,
  x: string,
  path: string,
  channels: number,
  heads: number,
  groups: number,
  context: string,
  contextDim: number,
): string {
  const scope = GraphBuilder.scope(path);
  const normed = g.groupNorm(x, `${path}.norm`, channels, groups, 1e-6);
  const projected = g.conv(normed, `${path}.proj_in`, channels, channels, 1);
  let h = toSequence(g, projected, scope, channels);
  const block = `${path}.transformer_blocks.0`;
  const bscope = GraphBuilder.scope(block);
  h = g.op('Add', [attention(g, g.layerNorm(h, `${block}.norm1`, channels), `${block}.attn1`, channels, heads), h], {}, `${bscope}/Add`);
  h = g.op(
    'Add',
    [attention(g, g.layerNorm(h, `${block}.norm2`, channels), `${block}.attn2`, channels, heads, { context, contextDim }), h],
    {},
    `${bscope}/Add_1`,
  );
  const inner = channels * 4;
  const proj = g.linear(g.layerNorm(h, `${block}.norm3`, channels), `${block}.ff.net.0.proj`, channels, inner * 2);
  const [value, gate] = g.opMulti('Split', [proj, g.ints([inner, inner])], 2, { axis: -1 }, `${bscope}/ff/net.0/Split`);
  const geglu = g.op('Mul', [value, g.gelu(gate, `${block}.ff.net.0.gelu`)], {}, `${bscope}/ff/net.0/Mul`);
  h = g.op('Add', [g.linear(geglu, `${block}.ff.net.2`, inner, channels, { gain: 0.5 }), h], {}, `${bscope}/Add_2`);
  const image = toImage(g, h, x, scope);
  return g.op('Add', [g.conv(image, `${path}.proj_out`, channels, channels, 1, { gain: 0.5 }), x], {}, `${scope}/Add`);
}

/** Single-head VAE mid-block attention over pixels, with its GroupNorm and residual. */
export function vaeAttention(g: GraphBuilder, x: string, path: string, channels: number, groups: number): string {
  const scope = GraphBuilder.scope(path);
  const seq = toSequence(g, g.groupNorm(x, `${path}.group_norm`, channels, groups, 1e-6), scope, channels);
  const attended = attention(g, seq, path, channels, 1, { qkvBias: true });
  return g.op('Add', [toImage(g, attended, x, scope), x], {}, `${scope}/Add`);
}

/** Stride-2 3x3 convolution. The UNet pads 1 on every side; the VAE encoder pads only right and bottom (diffusers'
 * Downsample2D with padding=0, as LDM's VAE), which real checkpoints' VAE weights expect. */
export function downsample(g: GraphBuilder, x: string, path: string, channels: number, opts: { padRightBottomOnly?: boolean } = {}): string {
  return g.conv(x, `${path}.conv`, channels, channels, 3, { stride: 2, pads: opts.padRightBottomOnly ? [0, 0, 1, 1] : undefined });
}

/**
 * 2x nearest upsampling + conv. With `like` (the UNet's next skip connection) the output takes that tensor's height and
 * width instead, as diffusers' Upsample2D does with `upsample_size`: sizes that do not halve evenly (a 72x104 image,
 * a 9x13 latent) then line up with their skips; for even sizes it is the same 2x.
 */
export function upsample(g: GraphBuilder, x: string, path: string, channels: number, like?: string): string {
  const scope = GraphBuilder.scope(path);
  const nearest = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  let up: string;
  if (like) {
    const batchChannels = g.op('Slice', [g.op('Shape', [x], {}, `${scope}/Shape`), g.ints([0]), g.ints([2])], {}, `${scope}/Slice`);
    const spatial = g.op('Slice', [g.op('Shape', [like], {}, `${scope}/Shape_1`), g.ints([2]), g.ints([4])], {}, `${scope}/Slice_1`);
    const sizes = g.op('Concat', [batchChannels, spatial], { axis: 0 }, `${scope}/Concat`);
    up = g.op('Resize', [x, '', '', sizes], nearest, `${scope}/Resize`);
  } else {
    g.keepFloat32.add(`${path}.scales`);
    up = g.op('Resize', [x, '', g.param(`${path}.scales`, [4], Float32Array.of(1, 1, 2, 2))], nearest, `${scope}/Resize`);
  }
  return g.conv(up, `${path}.conv`, channels, channels, 3);
}

/** Sinusoidal timestep features (flip_sin_to_cos, shift 0) -> time_embedding MLP. */
export function timestepEmbedding(g: GraphBuilder, timestep: string, baseChannels: number, embedDim: number, prefix = ''): string {
  const half = baseChannels / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const t = g.op('Unsqueeze', [timestep, g.ints([1])], {}, `/${prefix}time_proj/Unsqueeze`);
  g.keepFloat32.add(`${prefix}time_proj.freqs`).add(timestep);
  const args = g.op('Mul', [t, g.param(`${prefix}time_proj.freqs`, [1, half], freqs)], {}, `/${prefix}time_proj/Mul`);
  let features = g.op(
    'Concat',
    [g.op('Cos', [args], {}, `/${prefix}time_proj/Cos`), g.op('Sin', [args], {}, `/${prefix}time_proj/Sin`)],
    { axis: -1 },
    `/${prefix}time_proj/Concat`,
  );
  // float16 graphs: the sinusoid of t (up to 999) in float32, as diffusers computes it, then float16 for the MLP
  if (g.flavour.float16) features = g.op('Cast', [features], { to: 10 }, `/${prefix}time_proj/Cast`);
  const h = g.silu(g.linear(features, `${prefix}time_embedding.linear_1`, baseChannels, embedDim), `${prefix}time_embedding.act`);
  return g.linear(h, `${prefix}time_embedding.linear_2`, embedDim, embedDim);
}
