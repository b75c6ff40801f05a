// Everything img2img needs for one inpainting request, prepared as A1111's StableDiffusionProcessingImg2Img.init does:
// the mask (binary, inverted, blurred), "only masked" cropping, the image to encode (filled per inpainting_fill),
// the latent-size mask for blending, the pixel mask for inpainting models, and the overlay for the paste-back.
import sharp from 'sharp';
import { ValidationError, type GenerationParams, type InpaintParams } from '@farm/core';
import { decodeImage, stripDataUrl } from '../pipeline/images';
import { binaryMask, blurMask, cropPlane, cropRegion, doubled, expandCropRegion, invert, type Plane } from './mask';
import { fillMasked } from './fill';
import { resample } from '../upscale/resample';
import type { Overlay } from './overlay';

export interface InpaintPlan {
  /** RGB at width x height: what the VAE encodes as the init latent */
  image: Buffer;
  /** width x height mask in [0, 1] (rounded when mask_round): the inpainting model's conditioning mask */
  pixelMask: Float32Array;
  /** (height/8) x (width/8): 1 = repaint (A1111's nmask before tiling over channels) */
  latentMask: Float32Array;
  overlay: Overlay;
  /** A1111's extra generation parameters for the infotext */
  infotext: Record<string, string | number>;
}

const FITS = { 0: 'fill', 1: 'cover', 2: 'contain' } as const;

async function decodeRaw(base64: string, field: string, maxInputPixels: number, channels: 3 | 4): Promise<{ data: Buffer; width: number; height: number }> {
  try {
    const img = sharp(Buffer.from(stripDataUrl(base64), 'base64'), { limitInputPixels: maxInputPixels, failOn: 'error' }).toColourspace('srgb');
    const { data, info } = await (channels === 4 ? img.ensureAlpha() : img.removeAlpha()).raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch {
    throw new ValidationError(`${field} is not a decodable image`, field);
  }
}

async function resizePlane(m: Plane, width: number, height: number, fit: 'fill' | 'cover' | 'contain'): Promise<Plane> {
  if (m.width === width && m.height === height) return m;
  const data = await sharp(m.data, { raw: { width: m.width, height: m.height, channels: 1 } })
    .resize(width, height, { fit, position: 'centre', background: { r: 0, g: 0, b: 0 } })
    .extractChannel(0)
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data), width, height };
}

async function resizeRgb(rgb: Uint8Array, w: number, h: number, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
}

function cropRgb(rgb: Uint8Array, imageWidth: number, [x1, y1, x2, y2]: [number, number, number, number]): Uint8Array {
  const w = x2 - x1;
  const out = new Uint8Array(w * (y2 - y1) * 3);
  for (let y = y1; y < y2; y++) out.set(rgb.subarray((y * imageWidth + x1) * 3, (y * imageWidth + x2) * 3), (y - y1) * w * 3);
  return out;
}

/** The mask as A1111 reads it: binary (alpha or luminance), inverted if asked, blurred along x then y. */
export async function loadMask(ip: InpaintParams, maxInputPixels: number): Promise<Plane> {
  const raw = await decodeRaw(ip.mask, 'mask', maxInputPixels, 4);
  let m = binaryMask(raw.data, raw.width, raw.height, ip.mask_round);
  if (ip.inpainting_mask_invert) m = invert(m);
  return blurMask(m, ip.mask_blur_x, ip.mask_blur_y);
}

/** null when "only masked" finds an empty mask: A1111 then runs plain img2img. */
export async function prepareInpaint(p: GenerationParams, maxInputPixels: number): Promise<InpaintPlan | null> {
  const ip = p.inpaint!;
  const { width, height } = p;
  const infotext: Record<string, string | number> = {};
  if (ip.inpainting_mask_invert) infotext['Mask mode'] = 'Inpaint not masked';
  if (ip.mask_blur_x > 0 || ip.mask_blur_y > 0) {
    if (ip.mask_blur_x === ip.mask_blur_y) infotext['Mask blur'] = ip.mask_blur_x;
  }
  let mask = await loadMask(ip, maxInputPixels);
  let image: Buffer;
  let imageMask: Plane;
  let overlay: Overlay;
  if (ip.inpaint_full_res) {
    const original = await decodeRaw(p.init_image!, 'init_image', maxInputPixels, 3);
    mask = await resizePlane(mask, original.width, original.height, FITS[p.resize_mode as 0 | 1 | 2] ?? 'fill');
    const found = cropRegion(mask, ip.inpaint_full_res_padding);
    if (!found) return null;
    const box = expandCropRegion(found, width, height, mask.width, mask.height);
    imageMask = await resizePlane(cropPlane(mask, box), width, height, 'fill');
    image = await resizeRgb(cropRgb(original.data, original.width, box), box[2] - box[0], box[3] - box[1], width, height);
    overlay = {
      rgb: original.data,
      alpha: Uint8Array.from(mask.data, (v) => 255 - v),
      width: original.width,
      height: original.height,
      pasteTo: [box[0], box[1], box[2] - box[0], box[3] - box[1]],
    };
    infotext['Inpaint area'] = 'Only masked';
    infotext['Masked area padding'] = ip.inpaint_full_res_padding;
  } else {
    imageMask = await resizePlane(mask, width, height, FITS[p.resize_mode as 0 | 1 | 2] ?? 'fill');
    image = await decodeImage(p.init_image!, width, height, { resizeMode: p.resize_mode, maxInputPixels });
    overlay = { rgb: Uint8Array.from(image), alpha: Uint8Array.from(doubled(imageMask).data, (v) => 255 - v), width, height };
  }
  if (ip.inpainting_fill !== 1) image = Buffer.from(fillMasked(image, imageMask));
  if (ip.inpainting_fill === 0) infotext['Masked content'] = 'fill';
  if (ip.inpainting_fill === 2) infotext['Masked content'] = 'latent noise';
  if (ip.inpainting_fill === 3) infotext['Masked content'] = 'latent nothing';
  const asFloat = Float32Array.from(imageMask.data, (v) => v / 255);
  const latentMask = resample(asFloat, 1, height, width, height / 8, width / 8, 'bicubic', true).map((v) => {
    const q = Math.min(255, Math.max(0, Math.round(v * 255))) / 255;
    return ip.mask_round ? Math.round(q) : q;
  });
  const pixelMask = ip.mask_round ? asFloat.map((v) => Math.round(v)) : asFloat;
  return { image, pixelMask, latentMask, overlay, infotext };
}
