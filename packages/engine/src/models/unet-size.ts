// Which latent sizes a UNet export can run. Each upsampler either resizes to its skip connection's size (diffusers'
// upsample_size; generated models, exports traced with it) or by a fixed factor 2 (a Resize with constant scales):
// every fixed one needs latent sides that halve evenly at that depth, so image sides must be multiples of 8 * 2^n.
import { readFileSync } from 'node:fs';
import { NotRunnableHereError } from '@farm/core';
import { onnx } from '../onnx/onnx-proto';
import { perFileVersion } from './per-file-version';

/** The multiple that image width and height must be for this UNet (8 when every upsampler follows its skip). */
export function unetSizeMultiple(unetPath: string): number {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(readFileSync(unetPath));
  } catch (e) {
    // this worker's copy is unreadable; another worker's may not be
    throw new NotRunnableHereError(`${unetPath} cannot be read on this worker: ${(e as Error).message}`, 'model_not_loadable');
  }
  const fixed = (model.graph?.node ?? []).filter((n) => n.opType === 'Resize' && !n.input?.[3]).length;
  return 8 * 2 ** fixed;
}

/** unetSizeMultiple, read once per file version */
export const cachedUnetSizeMultiple = perFileVersion(unetSizeMultiple);
