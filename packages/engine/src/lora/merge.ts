// W' = W + Σ multiplier * (alpha / rank) * up @ down, added to the transposed [in, out] initializer. Several LoRAs on
// one weight are merged in a single pass: their factors are concatenated (rank Σ r_k) with each LoRA's scale folded
// into its down matrix, so the weight is read and written once whatever the number of LoRAs. The original model is
// never changed in place; a result with non-finite values is refused.
import { ValidationError } from '@farm/core';
import type { LoraLayer } from './lora-keys';

/** One LoRA's layer on a weight, with the multiplier the prompt gave that LoRA. */
export interface LoraPart {
  layer: LoraLayer;
  multiplier: number;
}

/** Adds the deltas of every part into `weight` ([in, out], row-major), in place. */
export function addLoraDeltas(weight: Float32Array, inFeatures: number, outFeatures: number, parts: readonly LoraPart[]): void {
  let totalRank = 0;
  for (const { layer } of parts) {
    const rank = layer.down.shape[0];
    const downIn = layer.down.shape.slice(1).reduce((a, b) => a * b, 1);
    if (downIn !== inFeatures || layer.up.shape[0] !== outFeatures || layer.up.shape[1] !== rank) {
      throw new ValidationError(
        `LoRA layer ${layer.module}: shapes up ${layer.up.shape} / down ${layer.down.shape} do not fit a ${inFeatures}x${outFeatures} weight`,
        'loras',
      );
    }
    totalRank += rank;
  }
  // downT [in, R] (scaled) and upT [R, out]: the inner loop below runs along contiguous rows of upT and the weight
  const downT = new Float32Array(inFeatures * totalRank);
  const upT = new Float32Array(totalRank * outFeatures);
  let base = 0;
  for (const { layer, multiplier } of parts) {
    const rank = layer.down.shape[0];
    const scale = multiplier * (layer.alpha / rank);
    const up = layer.up.data;
    const down = layer.down.data;
    for (let r = 0; r < rank; r++) {
      for (let i = 0; i < inFeatures; i++) downT[i * totalRank + base + r] = scale * down[r * inFeatures + i];
      for (let o = 0; o < outFeatures; o++) upT[(base + r) * outFeatures + o] = up[o * rank + r];
    }
    base += rank;
  }
  for (let i = 0; i < inFeatures; i++) {
    const row = i * outFeatures;
    for (let r = 0; r < totalRank; r++) {
      const d = downT[i * totalRank + r];
      if (d === 0) continue;
      const u = r * outFeatures;
      for (let o = 0; o < outFeatures; o++) weight[row + o] += d * upT[u + o];
    }
  }
}

export function assertFinite(weight: Float32Array, what: string): void {
  for (let i = 0; i < weight.length; i++) if (!Number.isFinite(weight[i])) throw new ValidationError(`merging ${what} gives non-finite weights`, 'loras');
}
