// Separable resampling of float planes with torch.nn.functional.interpolate's semantics (align_corners=False, size
// given): bilinear, bicubic (A = -0.75), nearest, nearest-exact, and the antialiased bilinear/bicubic, which are
// PIL's resampling (triangle and A = -0.5 cubic filters stretched by the downscale factor, weights normalised).
// Latent upscaling (hires fix) and the latent-size inpainting mask (PIL's BICUBIC resize) both come through here.

export type ResampleMode = 'bilinear' | 'bicubic' | 'nearest' | 'nearest-exact';

function cubic(x: number, a: number): number {
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** For each output index: the first input index, the number of taps and their weights (clamped indices inlined). */
function taps(inSize: number, outSize: number, mode: ResampleMode, antialias: boolean): { index: Int32Array; weights: Float64Array; width: number } {
  const scale = inSize / outSize;
  if (antialias && (mode === 'bilinear' || mode === 'bicubic')) {
    const support = (mode === 'bilinear' ? 1 : 2) * Math.max(scale, 1);
    const inv = 1 / Math.max(scale, 1);
    const width = Math.ceil(support) * 2 + 1;
    const index = new Int32Array(outSize * width);
    const weights = new Float64Array(outSize * width);
    for (let i = 0; i < outSize; i++) {
      const center = scale * (i + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      let sum = 0;
      for (let j = 0; j < xmax - xmin && j < width; j++) {
        const x = (j + xmin - center + 0.5) * inv;
        const w = mode === 'bilinear' ? Math.max(0, 1 - Math.abs(x)) : cubic(x, -0.5);
        index[i * width + j] = xmin + j;
        weights[i * width + j] = w;
        sum += w;
      }
      if (sum !== 0) for (let j = 0; j < width; j++) weights[i * width + j] /= sum;
    }
    return { index, weights, width };
  }
  const width = mode === 'bicubic' ? 4 : mode === 'bilinear' ? 2 : 1;
  const index = new Int32Array(outSize * width);
  const weights = new Float64Array(outSize * width);
  const clamp = (k: number) => Math.min(Math.max(k, 0), inSize - 1);
  for (let i = 0; i < outSize; i++) {
    const o = i * width;
    if (mode === 'nearest' || mode === 'nearest-exact') {
      index[o] = Math.min(Math.floor((mode === 'nearest' ? i : i + 0.5) * scale), inSize - 1);
      weights[o] = 1;
    } else if (mode === 'bilinear') {
      const src = Math.max(scale * (i + 0.5) - 0.5, 0);
      const i0 = Math.floor(src);
      const l1 = src - i0;
      index[o] = i0;
      index[o + 1] = i0 < inSize - 1 ? i0 + 1 : i0;
      weights[o] = 1 - l1;
      weights[o + 1] = l1;
    } else {
      const src = scale * (i + 0.5) - 0.5;
      const i0 = Math.floor(src);
      const t = src - i0;
      for (let k = 0; k < 4; k++) {
        index[o + k] = clamp(i0 - 1 + k);
        weights[o + k] = cubic(t - (k - 1), -0.75);
      }
    }
  }
  return { index, weights, width };
}

/**
 * Resizes `channels` planes of srcH x srcW (channel-major, as a latent [C, H, W]) to dstH x dstW.
 * Width first, then height.
 */
export function resample(
  data: Float32Array,
  channels: number,
  srcH: number,
  srcW: number,
  dstH: number,
  dstW: number,
  mode: ResampleMode,
  antialias = false,
): Float32Array {
  const tx = taps(srcW, dstW, mode, antialias);
  const ty = taps(srcH, dstH, mode, antialias);
  const mid = new Float64Array(channels * srcH * dstW);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < srcH; y++) {
      const row = (c * srcH + y) * srcW;
      for (let x = 0; x < dstW; x++) {
        let acc = 0;
        for (let k = 0; k < tx.width; k++) {
          const w = tx.weights[x * tx.width + k];
          if (w !== 0) acc += w * data[row + tx.index[x * tx.width + k]];
        }
        mid[(c * srcH + y) * dstW + x] = acc;
      }
    }
  }
  const out = new Float32Array(channels * dstH * dstW);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < dstH; y++) {
      for (let x = 0; x < dstW; x++) {
        let acc = 0;
        for (let k = 0; k < ty.width; k++) {
          const w = ty.weights[y * ty.width + k];
          if (w !== 0) acc += w * mid[(c * srcH + ty.index[y * ty.width + k]) * dstW + x];
        }
        out[(c * dstH + y) * dstW + x] = acc;
      }
    }
  }
  return out;
}
