// Pixels <-> tensors: decoded VAE output to RGB bytes, and init images (any format sharp reads) to [-1, 1] CHW.
import sharp from 'sharp';
import { ValidationError } from '@farm/core';

/** [3, H, W] in [-1, 1] -> interleaved RGB bytes */
export function tensorToRgb(chw: Float32Array, width: number, height: number): Buffer {
  const plane = width * height;
  const out = Buffer.alloc(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const v = (chw[c * plane + i] + 1) * 127.5;
      out[i * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return out;
}

export function rgbToTensor(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = rgb[i * 3 + c] / 127.5 - 1;
  return out;
}

export function stripDataUrl(base64: string): string {
  const comma = base64.indexOf(',');
  return base64.startsWith('data:') && comma > 0 ? base64.slice(comma + 1) : base64;
}

/** Largest input image (init or control) accepted, in pixels: sharp refuses bigger ones from the header, before decoding. */
export const MAX_INPUT_PIXELS = 4096 * 4096;

/**
 * Decodes the whole image (into an 8x8 thumbnail, so memory stays small) to prove it is readable: not an image,
 * truncated, or over the pixel limit gives a ValidationError naming the field. Gateways run it before queueing.
 */
export async function checkImage(base64: string, field: string, maxInputPixels = MAX_INPUT_PIXELS): Promise<void> {
  const bytes = Buffer.from(stripDataUrl(base64), 'base64');
  if (bytes.length === 0) throw new ValidationError(`${field} is empty or not base64`, field);
  let meta;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata(); // the header only: the size check comes next
  } catch {
    throw new ValidationError(`${field} is not an image sharp can read (PNG, JPEG, WebP, ...)`, field);
  }
  if ((meta.width ?? 0) * (meta.height ?? 0) > maxInputPixels) {
    throw new ValidationError(`${field} is ${meta.width}x${meta.height}, more than the ${maxInputPixels} pixels accepted`, field);
  }
  try {
    await sharp(bytes, { limitInputPixels: maxInputPixels, failOn: 'truncated' }).resize(8, 8, { fit: 'fill' }).raw().toBuffer();
  } catch (e) {
    throw new ValidationError(`${field} could not be decoded (truncated or corrupt ${meta.format ?? 'image'}): ${(e as Error).message.split('\n')[0]}`, field);
  }
}

const FITS: Record<number, 'fill' | 'cover' | 'contain'> = { 0: 'fill', 1: 'cover', 2: 'contain' };

/** Decodes a base64 image and resizes it per A1111 resize_mode (0 stretch, 1 crop and resize, 2 resize and fill). */
export async function decodeImage(
  base64: string,
  width: number,
  height: number,
  opts: { resizeMode?: number; maxInputPixels?: number; field?: string },
): Promise<Buffer> {
  const field = opts.field ?? 'init_image';
  const bytes = Buffer.from(stripDataUrl(base64), 'base64');
  if (bytes.length === 0) throw new ValidationError(`${field} is empty or not base64`, field);
  try {
    return await sharp(bytes, { limitInputPixels: opts.maxInputPixels ?? MAX_INPUT_PIXELS, failOn: 'error' })
      .removeAlpha()
      .resize(width, height, { fit: FITS[opts.resizeMode ?? 0] ?? 'fill', position: 'centre', background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  } catch (e) {
    const reason = /pixel limit/i.test((e as Error).message) ? `is larger than ${opts.maxInputPixels ?? MAX_INPUT_PIXELS} pixels` : 'is not a decodable image';
    throw new ValidationError(`${field} ${reason}`, field);
  }
}

export async function encodePng(rgb: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
