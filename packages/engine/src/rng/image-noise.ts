// One image's noise as A1111's ImageRNG (modules/rng.py) makes it: the first tensor is the seed's first draw,
// optionally slerped towards the variation seed's first draw (subseed_strength) and drawn at another size and pasted
// centred (seed_resize_from_w/h); every later draw (ancestral and SDE noise) continues the image's own generator, or,
// with eta_noise_seed_delta, a fresh generator seeded with seed + delta.
import type { GenerationParams } from '@farm/core';
import type { NoiseSource } from './numpy-random-state';
import { createGenerator, type RandnSource } from './sources';

export interface ImageNoiseOptions {
  source: RandnSource;
  seed: number;
  /** latent [channels, height, width] */
  shape: [number, number, number];
  subseed?: number;
  subseedStrength?: number;
  /** pixel size the seed's noise was made for; <= 0 means the image's own size */
  seedResizeFromW?: number;
  seedResizeFromH?: number;
  etaNoiseSeedDelta?: number;
}

export interface ImageNoise {
  /** the initial latent noise */
  first: Float32Array;
  /** the image's generator for every later draw */
  stream: NoiseSource;
}

export function imageNoise(o: ImageNoiseOptions): ImageNoise {
  const [c, h, w] = o.shape;
  const resize = (o.seedResizeFromW ?? 0) > 0 && (o.seedResizeFromH ?? 0) > 0;
  const noiseShape: [number, number, number] = resize ? [c, Math.floor(o.seedResizeFromH! / 8), Math.floor(o.seedResizeFromW! / 8)] : [c, h, w];
  const size = (s: [number, number, number]) => s[0] * s[1] * s[2];
  const generator = createGenerator(o.source, o.seed);
  let noise = resize ? createGenerator(o.source, o.seed).randn(size(noiseShape)) : generator.randn(size(noiseShape));
  const strength = o.subseedStrength ?? 0;
  if (strength !== 0) {
    const sub = createGenerator(o.source, o.subseed ?? 0).randn(size(noiseShape));
    noise = slerp(strength, noise, sub, noiseShape);
  }
  if (resize) noise = pasteCentred(noise, noiseShape, generator.randn(size(o.shape)), o.shape);
  const delta = o.etaNoiseSeedDelta ?? 0;
  return { first: noise, stream: delta ? createGenerator(o.source, o.seed + delta) : generator };
}

/** Image k of a request (seed + k, variation seed subseed + k, as A1111 numbers them). */
export function noiseForImage(p: GenerationParams, k: number, shape: [number, number, number]): ImageNoise {
  return imageNoise({
    source: p.randn_source ?? 'numpy',
    seed: (p.seed + k) % 2 ** 32,
    shape,
    subseed: ((p.subseed ?? 0) + k) % 2 ** 32,
    subseedStrength: p.subseed_strength ?? 0,
    seedResizeFromW: p.seed_resize_from_w,
    seedResizeFromH: p.seed_resize_from_h,
    etaNoiseSeedDelta: p.eta_noise_seed_delta,
  });
}

/**
 * A1111's slerp on one image's [C, H, W] noise: norms and dot products are taken along dim 1 (H) for each channel and
 * column; when the mean cosine is above 0.9995 it falls back to low * t + high * (1 - t), as A1111 does.
 */
export function slerp(t: number, low: Float32Array, high: Float32Array, shape: [number, number, number]): Float32Array {
  const [c, h, w] = shape;
  const cols = c * w;
  const dots = new Float64Array(cols);
  for (let ch = 0; ch < c; ch++) {
    for (let x = 0; x < w; x++) {
      let nl = 0;
      let nh = 0;
      let dot = 0;
      for (let y = 0; y < h; y++) {
        const i = (ch * h + y) * w + x;
        nl += low[i] * low[i];
        nh += high[i] * high[i];
        dot += low[i] * high[i];
      }
      dots[ch * w + x] = dot / (Math.sqrt(nl) * Math.sqrt(nh));
    }
  }
  const out = new Float32Array(low.length);
  const mean = dots.reduce((a, b) => a + b, 0) / cols;
  if (mean > 0.9995) {
    for (let i = 0; i < out.length; i++) out[i] = low[i] * t + high[i] * (1 - t);
    return out;
  }
  for (let ch = 0; ch < c; ch++) {
    for (let x = 0; x < w; x++) {
      const omega = Math.acos(dots[ch * w + x]);
      const so = Math.sin(omega);
      const a = Math.sin((1 - t) * omega) / so;
      const b = Math.sin(t * omega) / so;
      for (let y = 0; y < h; y++) {
        const i = (ch * h + y) * w + x;
        out[i] = a * low[i] + b * high[i];
      }
    }
  }
  return out;
}

/** A1111's seed resize: the noise made at `from` size is pasted centred into `base` (cropped when larger). */
export function pasteCentred(noise: Float32Array, from: [number, number, number], base: Float32Array, to: [number, number, number]): Float32Array {
  const [c, fh, fw] = from;
  const [, th, tw] = to;
  const dx0 = Math.floor((tw - fw) / 2);
  const dy0 = Math.floor((th - fh) / 2);
  const w = dx0 >= 0 ? fw : fw + 2 * dx0;
  const h = dy0 >= 0 ? fh : fh + 2 * dy0;
  const tx = Math.max(dx0, 0);
  const ty = Math.max(dy0, 0);
  const sx = Math.max(-dx0, 0);
  const sy = Math.max(-dy0, 0);
  const out = Float32Array.from(base);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) out[(ch * th + ty + y) * tw + tx + x] = noise[(ch * fh + sy + y) * fw + sx + x];
    }
  }
  return out;
}
