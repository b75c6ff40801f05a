// Small facts about a model the loop needs: the UNet's input channels (9 = an inpainting model) and alphā at a
// (possibly fractional) timestep for latent blending.
import type * as ort from 'onnxruntime-node';
import { trainSigmas, type SchedulerConfig } from '../schedulers';
import { sigmaAtTimestep } from '../inpaint/blend';

/** Channels of the UNet's `sample` input: 4, or 9 for inpainting models (latent, mask, masked-image latent). */
export function sampleChannels(unet: ort.InferenceSession): number {
  const meta = (unet as unknown as { inputMetadata?: { name: string; shape?: (number | string)[] }[] }).inputMetadata;
  const sample = Array.isArray(meta) ? meta.find((m) => m.name === 'sample') : undefined;
  const c = sample?.shape?.[1];
  return typeof c === 'number' ? c : 4;
}

export function alphaBarAt(config: SchedulerConfig): (t: number) => number {
  const table = trainSigmas(config);
  return (t) => 1 / (1 + sigmaAtTimestep(table, t) ** 2);
}
