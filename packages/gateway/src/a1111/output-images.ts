// Result images as A1111's API returns them: encode_pil_to_base64 per samples_format (png keeps its text chunks;
// jpg/webp carry the infotext as EXIF UserComment, at jpeg_quality), and images.image_grid for the grid A1111 adds
// when the call saves images (save_images) and return_grid is on.
import sharp from 'sharp';
import { addPngText, readPngText } from '@farm/engine/png';
import { A1111HttpError, gridLayout } from '@farm/core';
import { jpegWithExif, userCommentTiff, webpWithExif } from './exif';

export interface OutputOptions {
  samples_format: string;
  jpeg_quality: number;
  enable_pnginfo: boolean;
  return_grid: boolean;
  grid_only_if_multiple: boolean;
  n_rows: number;
  grid_prevent_empty_spots: boolean;
}

/** A PNG as it goes out: in the requested format, with `infotext` as its parameters (or none). */
export async function encodeImage(png: Buffer, infotext: string | null, o: OutputOptions): Promise<Buffer> {
  const format = o.samples_format.toLowerCase();
  const quality = Math.min(100, Math.max(1, Math.round(Number(o.jpeg_quality) || 80)));
  if (format === 'png') {
    const plain = await sharp(png).png({ compressionLevel: 6 }).toBuffer();
    const texts = Object.entries(readPngText(png)).filter(([k]) => k !== 'parameters');
    let out: Buffer = plain;
    for (const [k, v] of [...texts, ...(infotext !== null ? [['parameters', infotext] as [string, string]] : [])]) out = addPngText(out, k, v);
    return out;
  }
  if (format === 'jpg' || format === 'jpeg') {
    return jpegWithExif(await sharp(png).jpeg({ quality }).toBuffer(), userCommentTiff(infotext ?? ''));
  }
  if (format === 'webp') {
    const { width, height } = await sharp(png).metadata();
    return webpWithExif(await sharp(png).webp({ quality }).toBuffer(), userCommentTiff(infotext ?? ''), width!, height!);
  }
  throw new A1111HttpError(500, 'Invalid image format');
}

/** The grid of same-sized images on black, row by row, as a PNG. */
export async function imageGrid(pngs: Buffer[], batchSize: number, o: OutputOptions): Promise<Buffer> {
  const { width, height } = await sharp(pngs[0]).metadata();
  const { rows, cols } = gridLayout(pngs.length, batchSize, o);
  return sharp({ create: { width: cols * width!, height: rows * height!, channels: 3, background: '#000000' } })
    .composite(pngs.map((input, i) => ({ input, left: (i % cols) * width!, top: Math.floor(i / cols) * height! })))
    .png()
    .toBuffer();
}

export function wantsGrid(count: number, saveImages: boolean, o: OutputOptions): boolean {
  return saveImages && o.return_grid && !(count < 2 && o.grid_only_if_multiple);
}
