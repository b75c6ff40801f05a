// Upscaler models (ESRGAN / Real-ESRGAN style ONNX exports: image [1, 3, h, w] in [0, 1] -> [1, 3, h*s, w*s]) found as
// <name>.onnx in UPSCALERS_DIR, run tile by tile (A1111's defaults: 192 px tiles, 8 px overlap) so any image fits in
// memory; overlapping outputs are averaged.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { SessionCache } from '../onnx/session-cache';
import { ValidationError } from '@farm/core';
import type { ModelUpscaler, RgbImage, UpscaleHooks } from './pixel-upscale';

export interface UpscalerModelInfo {
  name: string;
  path: string;
}

export function listUpscalerModels(dir?: string): UpscalerModelInfo[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.onnx'))
    .sort()
    .map((f) => ({ name: f.replace(/\.onnx$/, ''), path: join(dir, f) }));
}

/** Tile origins along one axis: tiles of `tile` px stepping by tile - overlap, the last one flush with the end. */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const starts: number[] = [];
  for (let s = 0; ; s += tile - overlap) {
    if (s + tile >= size) {
      starts.push(size - tile);
      break;
    }
    starts.push(s);
  }
  return starts;
}

export function modelUpscaler(session: ort.InferenceSession, opts: { tile?: number; overlap?: number } = {}): ModelUpscaler {
  const tile = opts.tile ?? 192;
  const overlap = opts.overlap ?? 8;
  return async (img: RgbImage, hooks: UpscaleHooks = {}) => {
    const { width: w, height: h } = img;
    let scale = 0;
    let acc: Float32Array | null = null;
    let weight: Float32Array | null = null;
    const ys = tileStarts(h, tile, overlap);
    const xs = tileStarts(w, tile, overlap);
    let done = 0;
    for (const y0 of ys) {
      for (const x0 of xs) {
        const tw = Math.min(tile, w);
        const th = Math.min(tile, h);
        const input = new Float32Array(3 * tw * th);
        for (let y = 0; y < th; y++) {
          for (let x = 0; x < tw; x++) {
            const src = ((y0 + y) * w + x0 + x) * 3;
            for (let c = 0; c < 3; c++) input[c * tw * th + y * tw + x] = img.data[src + c] / 255;
          }
        }
        const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, th, tw]) });
        const t = out[session.outputNames[0]];
        const [oh, ow] = [t.dims[2] as number, t.dims[3] as number];
        if (!scale) {
          scale = ow / tw;
          if (hooks.maxPixels !== undefined && w * scale * h * scale > hooks.maxPixels) {
            throw new ValidationError(
              `the upscaler model makes ${w * scale}x${h * scale} of a ${w}x${h} image, more than the ${hooks.maxPixels} pixels allowed`,
              'upscaler',
            );
          }
          acc = new Float32Array(3 * w * scale * h * scale);
          weight = new Float32Array(w * scale * h * scale);
        }
        const data = t.data as Float32Array;
        const W = w * scale;
        for (let y = 0; y < oh; y++) {
          for (let x = 0; x < ow; x++) {
            const o = (y0 * scale + y) * W + x0 * scale + x;
            weight![o] += 1;
            for (let c = 0; c < 3; c++) acc![c * W * h * scale + o] += data[c * oh * ow + y * ow + x];
          }
        }
        hooks.onTile?.(++done, ys.length * xs.length);
      }
    }
    const W = w * scale;
    const H = h * scale;
    const rgb = Buffer.alloc(W * H * 3);
    for (let i = 0; i < W * H; i++) {
      for (let c = 0; c < 3; c++) {
        const v = (acc![c * W * H + i] / weight![i]) * 255;
        rgb[i * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
    return { data: rgb, width: W, height: H };
  };
}

/** Upscaler models by name, sessions from the engine's cache. */
export function upscalerModels(dir: string | undefined, cache: SessionCache) {
  return {
    list: () => listUpscalerModels(dir),
    async get(name: string): Promise<ModelUpscaler | null> {
      const info = listUpscalerModels(dir).find((m) => m.name === name);
      if (!info) return null;
      return modelUpscaler(await cache.get(`upscaler|${info.path}`, () => info.path));
    },
  };
}
