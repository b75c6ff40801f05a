// Input images are decoded once at the gateway before a job is queued, so an unreadable, truncated or oversized
// image is a 422 for the caller rather than a failed job later.
import type { GenerationParams } from '@farm/core';
import { checkImage } from '@farm/engine/images';

export async function checkRequestImages(params: GenerationParams, fields: { init: string; control: (i: number) => string }): Promise<void> {
  if (params.init_image !== undefined) await checkImage(params.init_image, fields.init);
  if (params.inpaint) await checkImage(params.inpaint.mask, 'mask');
  for (const [i, unit] of params.controlnet.entries()) await checkImage(unit.image, fields.control(i));
}

export const NATIVE_IMAGE_FIELDS = { init: 'init_image', control: (i: number) => `controlnet[${i}].image` };
export const A1111_IMAGE_FIELDS = { init: 'init_images[0]', control: (i: number) => `alwayson_scripts.controlnet.args[${i}].image` };
