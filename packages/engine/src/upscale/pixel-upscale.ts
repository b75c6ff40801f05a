// Pixel upscaling as A1111's images.resize_image(0, ..., upscaler_name) and Upscaler.upscale do it: "None" resizes
// straight to the size with Lanczos; any other upscaler is applied (repeatedly, up to 3 times, for fixed-scale models)
// until the image reaches int(w * scale) // 8 * 8, which is then met with a Lanczos resize, as is the exact target.
// Lanczos and Nearest run in sharp; upscaler models (ONNX) come from the model runner.
import sharp from 'sharp';
import { ValidationError } from '@farm/core';

export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

/** What a caller may ask of one upscaler pass: tile progress, and a bound on the size it may make. */
export interface UpscaleHooks {
  /** after each tile of a model pass */
  onTile?(done: number, total: number): void;
  /** a pass that would make more pixels than this throws a ValidationError before it allocates them */
  maxPixels?: number;
}

/** Runs an upscaler model once over a whole image (tiled inside); returns the bigger image. */
export type ModelUpscaler = (image: RgbImage, hooks?: UpscaleHooks) => Promise<RgbImage>;

export async function resizeRgb(img: RgbImage, width: number, height: number, kernel: 'lanczos3' | 'nearest' = 'lanczos3'): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel })
    .raw()
    .toBuffer();
  return { data, width, height };
}

/** Finds an upscaler model by name (null when there is none). */
export type ModelLookup = (name: string) => Promise<ModelUpscaler | null>;

/** One do_upscale step of a named upscaler. */
async function stepOf(name: string, scale: number, model: ModelLookup, hooks?: UpscaleHooks): Promise<(img: RgbImage) => Promise<RgbImage>> {
  if (name === 'Lanczos') return (img) => resizeRgb(img, Math.trunc(img.width * scale), Math.trunc(img.height * scale), 'lanczos3');
  if (name === 'Nearest') return (img) => resizeRgb(img, Math.trunc(img.width * scale), Math.trunc(img.height * scale), 'nearest');
  if (name === 'None') return async (img) => img;
  const run = await model(name);
  if (!run) throw new ValidationError(`could not find upscaler named "${name}"`, 'upscaler');
  return (img) => run(img, hooks);
}

/** A1111 Upscaler.upscale: the image scaled by `scale`, its size rounded down to a multiple of 8. */
export async function upscaleBy(img: RgbImage, scale: number, name: string, model: ModelLookup, hooks?: UpscaleHooks): Promise<RgbImage> {
  const destW = Math.trunc(Math.floor(img.width * scale) / 8) * 8;
  const destH = Math.trunc(Math.floor(img.height * scale) / 8) * 8;
  const step = await stepOf(name, scale, model, hooks);
  let cur = img;
  for (let i = 0; i < 3; i++) {
    if (cur.width >= destW && cur.height >= destH && (i > 0 || scale !== 1)) break;
    const before = [cur.width, cur.height];
    cur = await step(cur);
    if (before[0] === cur.width && before[1] === cur.height) break;
  }
  return cur.width !== destW || cur.height !== destH ? resizeRgb(cur, destW, destH) : cur;
}

/** A1111 images.resize_image(0, im, width, height, upscaler_name): exactly width x height. */
export async function resizeWithUpscaler(img: RgbImage, width: number, height: number, name: string, model: ModelLookup): Promise<RgbImage> {
  if (name === 'None') return resizeRgb(img, width, height);
  const scale = Math.max(width / img.width, height / img.height);
  let cur = img;
  if (scale > 1) cur = await upscaleBy(img, scale, name, model);
  return resizeRgb(cur, width, height);
}
