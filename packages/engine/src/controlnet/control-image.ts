// A ControlNet unit's image -> the control map (shown to users) and the [3, H, W] tensor in [0, 1] the model takes.
import sharp from 'sharp';
import type { ControlNetUnit } from '@farm/core';
import { decodeImage } from '../pipeline/images';
import { canny, toGray } from './canny';

export interface ControlMap {
  /** RGB bytes of the map, width x height */
  rgb: Buffer;
  tensor: Float32Array;
}

export async function controlMap(
  unit: Pick<ControlNetUnit, 'image' | 'module' | 'threshold_a' | 'threshold_b'>,
  width: number,
  height: number,
  maxInputPixels: number,
): Promise<ControlMap> {
  const rgb = await decodeImage(unit.image, width, height, { resizeMode: 1, maxInputPixels, field: 'controlnet image' });
  let map = rgb;
  if (unit.module === 'canny') {
    const edges = canny(toGray(rgb, width, height), width, height, unit.threshold_a, unit.threshold_b);
    map = Buffer.alloc(width * height * 3);
    for (let i = 0; i < edges.length; i++) map[i * 3] = map[i * 3 + 1] = map[i * 3 + 2] = edges[i];
  }
  const plane = width * height;
  const tensor = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) tensor[c * plane + i] = map[i * 3 + c] / 255;
  return { rgb: map, tensor };
}

export async function controlMapPng(map: ControlMap, width: number, height: number): Promise<Buffer> {
  return sharp(map.rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}
