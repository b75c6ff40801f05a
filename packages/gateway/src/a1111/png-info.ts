// POST /sdapi/v1/png-info: the generation parameters of a PNG (text chunk) or JPEG/WebP (EXIF UserComment), with
// A1111's parse_generation_parameters keys, and the image's other text items.
import { Router } from 'express';
import sharp from 'sharp';
import { A1111ValidationError } from '@farm/core';
import { readPngText, parseGenerationParameters } from '@farm/engine/png';
import { asyncRoute } from '../http-errors';
import { readUserComment } from './exif';

/** PIL info keys A1111 drops from `items` (images.IGNORED_INFO_KEYS). */
const IGNORED_INFO_KEYS = new Set([
  'jfif',
  'jfif_version',
  'jfif_unit',
  'jfif_density',
  'dpi',
  'exif',
  'loop',
  'background',
  'timestamp',
  'duration',
  'progressive',
  'progression',
  'icc_profile',
  'chromaticity',
  'photoshop',
]);

/** A1111's read_info_from_image: the infotext (or null) and the other items. */
export async function readInfoFromImage(bytes: Buffer): Promise<{ geninfo: string | null; items: Record<string, string> }> {
  let meta;
  // A1111 answers 500 "Invalid encoded image"; bad input is a 4xx here
  try {
    meta = await sharp(bytes).metadata();
  } catch {
    throw new A1111ValidationError([{ loc: ['body', 'image'], msg: 'Invalid encoded image', type: 'value_error' }]);
  }
  if (meta.format === 'png') {
    const { parameters, ...rest } = readPngText(bytes);
    return { geninfo: parameters ?? null, items: Object.fromEntries(Object.entries(rest).filter(([k]) => !IGNORED_INFO_KEYS.has(k))) };
  }
  const comment = meta.exif ? readUserComment(meta.exif) : null;
  return { geninfo: comment || null, items: {} };
}

export function pngInfoRoutes(): Router {
  const r = Router();
  r.post(
    '/sdapi/v1/png-info',
    asyncRoute(async (req, res) => {
      const image = (req.body ?? {}).image;
      if (image === undefined || image === null)
        throw new A1111ValidationError([{ loc: ['body', 'image'], msg: 'field required', type: 'value_error.missing' }]);
      if (typeof image !== 'string') throw new A1111ValidationError([{ loc: ['body', 'image'], msg: 'str type expected', type: 'type_error.str' }]);
      let encoded = image.trim();
      if (encoded.startsWith('data:image/')) encoded = encoded.slice(encoded.indexOf(',') + 1);
      const { geninfo, items } = await readInfoFromImage(Buffer.from(encoded, 'base64'));
      res.json({ info: geninfo ?? '', items, parameters: parseGenerationParameters(geninfo ?? '') });
    }),
  );
  return r;
}
