// W' = W + multiplier * (alpha / rank) * up @ down, added to the transposed [in, out] initializer. Several LoRAs
// add up. The original model is never changed in place; a result with non-finite values is refused.
import { ValidationError } from '@farm/core';
import type { LoraLayer } from './lora-keys';

/** Adds one layer's delta into `weight` ([in, out], row-major), in place. */
export function addLoraDelta(weight: Float32Array, inFeatures: number, outFeatures: number, layer: LoraLayer, multiplier: number): void {
  const rank = layer.down.shape[0];
  const downIn = layer.down.shape.slice(1).reduce((a, b) => a * b, 1);
  if (downIn !== inFeatures || layer.up.shape[0] !== outFeatures || layer.up.shape[1] !== rank) {
    throw new ValidationError(
      `LoRA layer ${layer.module}: shapes up ${layer.up.shape} / down ${layer.down.shape} do not fit a ${inFeatures}x${outFeatures} weight`,
      'loras',
    );
  }
  const scale = multiplier * (layer.alpha / rank);
  const up = layer.up.data;
  const down = layer.down.data;
  for (let i = 0; i < inFeatures; i++) {
    for (let o = 0; o < outFeatures; o++) {
      let s = 0;
      for (let r = 0; r < rank; r++) s += up[o * rank + r] * down[r * inFeatures + i];
      weight[i * outFeatures + o] += scale * s;
    }
  }
}

export function assertFinite(weight: Float32Array, what: string): void {
  for (let i = 0; i < weight.length; i++) if (!Number.isFinite(weight[i])) throw new ValidationError(`merging ${what} gives non-finite weights`, 'loras');
}
