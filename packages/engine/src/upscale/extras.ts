// An extras job (A1111's postprocessing upscale, scripts/postprocessing_upscale.py) on a worker: the image as RGB
// (alpha dropped, as PIL's convert("RGB")), upscaled by upscaler_1 (Upscaler.upscale: pixel-upscale.ts), upscaler_2
// blended in at its visibility (PIL's Image.blend), pasted centred on a black canvas for "Crop to fit"; the PNG keeps
// the input's text chunks (its generation `parameters`) and gets A1111's `postprocessing` infotext.
import sharp from 'sharp';
import { ValidationError, EXTRAS_MAX_OUTPUT_PIXELS, BUILTIN_UPSCALERS, checkExtrasSize, extrasInfotext, extrasScale, type GenerationParams } from '@farm/core';
import { upscaleBy, type ModelLookup, type RgbImage } from './pixel-upscale';
import { addPngText, readPngText } from '../png';
import { encodePng } from '../pipeline/images';

/** PIL's Image.blend on 8-bit bands: in1 + alpha * (in2 - in1) in float32, truncated. */
export function blendRgb(a: RgbImage, b: RgbImage, alpha: number): RgbImage {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`blend of ${a.width}x${a.height} and ${b.width}x${b.height}`);
  const f = Math.fround(alpha);
  const out = Buffer.alloc(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.trunc(Math.fround(a.data[i] + Math.fround(f * (b.data[i] - a.data[i]))));
  return { data: out, width: a.width, height: a.height };
}

/** PIL's paste of `img` at (W // 2 - w // 2, H // 2 - h // 2) on a black W x H canvas (parts outside are cut off). */
export function pasteCentred(img: RgbImage, width: number, height: number): RgbImage {
  const out = Buffer.alloc(width * height * 3);
  const ox = Math.floor(width / 2) - Math.floor(img.width / 2);
  const oy = Math.floor(height / 2) - Math.floor(img.height / 2);
  for (let y = Math.max(0, oy); y < Math.min(height, oy + img.height); y++) {
    const x0 = Math.max(0, ox);
    const x1 = Math.min(width, ox + img.width);
    if (x1 <= x0) break;
    const src = ((y - oy) * img.width + (x0 - ox)) * 3;
    img.data.copy(out, (y * width + x0) * 3, src, src + (x1 - x0) * 3);
  }
  return { data: out, width, height };
}

/** Throws a ValidationError when an extras job cannot run here: its fields, or an upscaler this worker does not have. */
export function validateExtras(p: GenerationParams, models: string[]): void {
  const e = p.extras;
  if (!e) throw new ValidationError('an extras job needs its extras fields', 'extras');
  if (!p.init_image) throw new ValidationError('an extras job needs an image', 'image');
  if (e.upscaler_1 === 'None') return;
  const known = [...BUILTIN_UPSCALERS, ...models];
  for (const field of ['upscaler_1', 'upscaler_2'] as const) {
    if (field === 'upscaler_2' && e.upscaler_2 === 'None') continue;
    if (!known.includes(e[field])) throw new ValidationError(`could not find upscaler named ${e[field]} on this worker (UPSCALERS_DIR)`, field);
  }
}

export interface ExtrasOptions {
  maxInputPixels: number;
  maxOutputPixels?: number;
  /** fraction of the job done, 0..1 */
  onProgress?(fraction: number): void;
}

/** Runs one extras job; returns its PNG and its postprocessing infotext. */
export async function runExtras(p: GenerationParams, model: ModelLookup, opts: ExtrasOptions): Promise<{ png: Buffer; infotext: string }> {
  const e = p.extras!;
  const bytes = Buffer.from(p.init_image!, 'base64');
  let decoded;
  try {
    decoded = await sharp(bytes, { limitInputPixels: opts.maxInputPixels }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ValidationError(`image is not a decodable image: ${(err as Error).message.split('\n')[0]}`, 'image');
  }
  const input: RgbImage = { data: decoded.data, width: decoded.info.width, height: decoded.info.height };
  const maxPixels = opts.maxOutputPixels ?? EXTRAS_MAX_OUTPUT_PIXELS;
  const size = checkExtrasSize(input.width, input.height, e, maxPixels);
  let out = input;
  if (e.upscaler_1 !== 'None') {
    const scale = extrasScale(input.width, input.height, e);
    const second = e.upscaler_2 !== 'None' && e.extras_upscaler_2_visibility > 0;
    const passes = second ? 2 : 1;
    const upscale = async (name: string, pass: number) => {
      const up = await upscaleBy(input, scale, name, model, { maxPixels, onTile: (done, total) => opts.onProgress?.((pass + done / total) / passes) });
      return e.resize_mode === 1 && e.upscaling_crop ? pasteCentred(up, e.upscaling_resize_w, e.upscaling_resize_h) : up;
    };
    out = await upscale(e.upscaler_1, 0);
    if (second) out = blendRgb(out, await upscale(e.upscaler_2, 1), e.extras_upscaler_2_visibility);
  }
  if (out.width !== size.width || out.height !== size.height) throw new Error(`extras made ${out.width}x${out.height}, expected ${size.width}x${size.height}`);
  const infotext = extrasInfotext(e);
  // the input's own text chunks (PNG tEXt) travel on, as A1111 keeps image.info; `postprocessing` is added
  let texts: Record<string, string> = {};
  try {
    texts = readPngText(bytes);
  } catch {
    /* not a PNG, or no readable text chunks: nothing to carry */
  }
  let png = await encodePng(out.data, out.width, out.height);
  for (const [k, v] of Object.entries(texts)) if (k !== 'postprocessing') png = addPngText(png, k, v);
  png = addPngText(png, 'postprocessing', infotext);
  opts.onProgress?.(1);
  return { png, infotext };
}
