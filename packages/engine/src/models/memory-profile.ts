// A model's memory profile (@farm/core's ModelMemoryProfile), read from its graphs: the weights' bytes on disk, the
// UNet's first-block channels and heads, the VAE decoder's last-block channels, and whether attention runs in query
// slices (the generator's graphs say so with an int64 initializer holding the slice size). Read once per file version.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ATTENTION_SLICE_INITIALIZER, NotRunnableHereError, type ModelMemoryProfile } from '@farm/core';
import { onnx } from '../onnx/onnx-proto';

/** The networks every render loads. */
const NETWORKS = ['text_encoder', 'unet', 'vae_decoder'] as const;

function readGraph(file: string): onnx.IGraphProto {
  try {
    return onnx.ModelProto.decode(readFileSync(file)).graph ?? {};
  } catch (e) {
    throw new NotRunnableHereError(`${file} cannot be read on this worker: ${(e as Error).message}`, 'model_not_loadable');
  }
}

const dims = (g: onnx.IGraphProto, name: string): number[] | undefined => g.initializer?.find((i) => i.name === name)?.dims?.map(Number);

/** The int64 values of an initializer (raw or typed storage). */
function ints(t: onnx.ITensorProto | undefined): number[] {
  if (!t) return [];
  if (t.int64Data?.length) return t.int64Data.map(Number);
  const raw = t.rawData;
  if (!raw || raw.byteLength % 8 !== 0) return [];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
}

function sliceSize(g: onnx.IGraphProto): number {
  return ints(g.initializer?.find((i) => i.name === ATTENTION_SLICE_INITIALIZER))[0] ?? 0;
}

/** Heads of the first self-attention: its query reshape's constant [0, -1, heads, head_dim] (torch exports and ours). */
function firstHeads(g: onnx.IGraphProto): number | undefined {
  const reshape = (g.node ?? []).find((n) => n.opType === 'Reshape' && /attn1\/to_q\//.test(n.name ?? ''));
  const shape = ints(g.initializer?.find((i) => i.name === reshape?.input?.[1]));
  return shape.length === 4 && shape[2] > 0 ? shape[2] : undefined;
}

/** Bytes of a network's files that the session loads: the graph and its external data, in the flavour in use. */
function networkBytes(dir: string, gpu: boolean): number {
  if (!existsSync(dir)) return 0;
  const files = readdirSync(dir).filter(
    (f) => (gpu && existsSync(join(dir, 'model.gpu.onnx')) ? f.includes('.gpu.') : !f.includes('.gpu.')) && !f.endsWith('.json'),
  );
  return files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

export function readMemoryProfile(modelPath: string, gpu = false): ModelMemoryProfile {
  const unet = readGraph(join(modelPath, 'unet/model.onnx'));
  const vae = readGraph(join(modelPath, 'vae_decoder/model.onnx'));
  const unetChannels = dims(unet, 'conv_in.weight')?.[0] ?? 320;
  return {
    weightsBytes: NETWORKS.reduce((n, net) => n + networkBytes(join(modelPath, net), gpu), 0),
    unetChannels,
    // exports whose heads cannot be read: SD1.5's 8, or SD2's 64-channel heads when that is more
    unetHeads: firstHeads(unet) ?? Math.max(8, Math.ceil(unetChannels / 64)),
    vaeChannels: dims(vae, 'decoder.conv_out.weight')?.[1] ?? 128,
    // both halves must slice: one graph without it holds full score matrices
    attentionSlice: Math.min(sliceSize(unet), sliceSize(vae)),
  };
}

const cache = new Map<string, { stamp: string; profile: ModelMemoryProfile }>();

/** readMemoryProfile, read once per version of the model's UNet and VAE decoder files */
export function cachedMemoryProfile(modelPath: string, gpu = false): ModelMemoryProfile {
  const stamp = [`${gpu}`, ...['unet/model.onnx', 'vae_decoder/model.onnx'].map((f) => statSync(join(modelPath, f)).mtimeMs)].join('|');
  const hit = cache.get(modelPath);
  if (hit?.stamp === stamp) return hit.profile;
  const profile = readMemoryProfile(modelPath, gpu);
  cache.set(modelPath, { stamp, profile });
  return profile;
}
