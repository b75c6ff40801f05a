// Reads what a session expects from its metadata instead of assuming it (exports differ in timestep and id dtypes).
import * as ort from 'onnxruntime-node';
import { toFloat16Bits } from '@farm/core';

interface InputMeta {
  name: string;
  type?: string;
  shape?: (number | string)[];
}

function inputMeta(session: ort.InferenceSession, name: string): InputMeta | undefined {
  const meta = (session as unknown as { inputMetadata?: InputMeta[] }).inputMetadata;
  return Array.isArray(meta) ? meta.find((m) => m.name === name) : undefined;
}

/** The UNet/ControlNet timestep as the model wants it: float32|float16|int64, shaped [B], [1] or scalar. */
export function timestepTensor(session: ort.InferenceSession, t: number, batch: number): ort.Tensor {
  const meta = inputMeta(session, 'timestep');
  const shape = meta?.shape;
  const dims = shape === undefined ? [batch] : shape.length === 0 ? [] : [shape[0] === 1 ? 1 : batch];
  const n = dims.length === 0 ? 1 : dims[0];
  switch (meta?.type ?? 'float32') {
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(Math.round(t))), dims);
    case 'float16':
      return new ort.Tensor('float16', new Uint16Array(n).fill(toFloat16Bits(t)), dims);
    default:
      return new ort.Tensor('float32', new Float32Array(n).fill(t), dims);
  }
}

export function inputIdsTensor(session: ort.InferenceSession, ids: Int32Array, batch: number, name = 'input_ids'): ort.Tensor {
  const type = inputMeta(session, name)?.type ?? 'int32';
  const seq = ids.length / batch;
  return type === 'int64'
    ? new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [batch, seq],
      )
    : new ort.Tensor('int32', ids, [batch, seq]);
}
