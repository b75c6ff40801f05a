// What one request brings to the denoising loop besides its prompts: the init latent (img2img), the inpainting
// blend and paste-back, and the extra UNet channels of inpainting (9-channel) models, as A1111 builds its
// image_conditioning: [mask, VAE(masked image)], the mask nearest-resized to the latent.
import type { GenerationParams } from '@farm/core';
import { prepareInpaint } from '../inpaint/prepare';
import { blendLatent, type LatentBlend } from '../inpaint/blend';
import { applyOverlay, type Overlay } from '../inpaint/overlay';
import { decodeImage, rgbToTensor } from './images';

/** [3, H, W] in [-1, 1] -> scaled latent */
export type EncodeTensor = (chw: Float32Array, width: number, height: number) => Promise<Float32Array>;

export interface ItemInputs {
  init?: Float32Array;
  /** per latent element, 1 = repaint; tiled over the 4 channels */
  nmask?: Float32Array;
  inpaintingFill?: number;
  concat?: Float32Array;
  overlay?: Overlay;
  noiseMultiplier: number;
  infotext: Record<string, string | number>;
  isUsingInpaintingConditioning: boolean;
}

export interface RowStart {
  x: Float32Array;
  blend?: LatentBlend;
  concat?: Float32Array;
}

/**
 * A1111 inpainting_image_conditioning: lerp(src, src * (1 - mask), weight) through the VAE, with the mask (ones when
 * there is none) nearest-resized to the latent in front. src is [3, H, W] in [-1, 1].
 */
export async function inpaintingConditioning(
  encode: EncodeTensor,
  src: Float32Array,
  width: number,
  height: number,
  pixelMask: Float32Array | null,
  weight: number,
): Promise<Float32Array> {
  const plane = width * height;
  const masked = Float32Array.from(src, (v, i) => v - weight * (pixelMask ? pixelMask[i % plane] : 1) * v);
  const latent = await encode(masked, width, height);
  const [h, w] = [height / 8, width / 8];
  const out = new Float32Array(5 * h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) out[y * w + x] = pixelMask ? pixelMask[Math.floor((y * height) / h) * width + Math.floor((x * width) / w)] : 1;
  out.set(latent, h * w);
  return out;
}

export async function prepareItemInputs(
  p: GenerationParams,
  ctx: { channels: number; encodeTensor: EncodeTensor; maxInputPixels: number },
): Promise<ItemInputs> {
  const { width, height } = p;
  const weight = p.inpainting_mask_weight ?? 1;
  const out: ItemInputs = { noiseMultiplier: 1, infotext: {}, isUsingInpaintingConditioning: ctx.channels === 9 };
  const nine = ctx.channels === 9;
  if (p.kind !== 'img2img') {
    // txt2img on an inpainting model: the whole image is masked and the masked image is mid-grey (0 in [-1, 1])
    if (nine) out.concat = await inpaintingConditioning(ctx.encodeTensor, new Float32Array(3 * width * height), width, height, null, 1);
  } else {
    const plan = p.inpaint ? await prepareInpaint(p, ctx.maxInputPixels) : null;
    const rgb = plan ? plan.image : await decodeImage(p.init_image!, width, height, { resizeMode: p.resize_mode, maxInputPixels: ctx.maxInputPixels });
    const src = rgbToTensor(rgb, width, height);
    out.init = await ctx.encodeTensor(src, width, height);
    if (plan) {
      out.nmask = new Float32Array(out.init.length);
      for (let c = 0; c < 4; c++) out.nmask.set(plan.latentMask, c * plan.latentMask.length);
      out.inpaintingFill = p.inpaint!.inpainting_fill;
      if (out.inpaintingFill === 3) out.init = Float32Array.from(out.init, (v, i) => v * (1 - out.nmask![i]));
      out.overlay = plan.overlay;
      Object.assign(out.infotext, plan.infotext);
    }
    if (nine) out.concat = await inpaintingConditioning(ctx.encodeTensor, src, width, height, plan ? plan.pixelMask : null, weight);
    if (p.initial_noise_multiplier !== undefined && p.initial_noise_multiplier !== 1) {
      out.noiseMultiplier = p.initial_noise_multiplier;
      out.infotext['Noise multiplier'] = p.initial_noise_multiplier;
    }
  }
  if (nine) out.infotext['Conditional mask weight'] = weight;
  return out;
}

/**
 * The start of one image's run. `noise` is the image's first noise (its seed's); inpainting_fill 2 mixes that same
 * noise into the init where the mask repaints, as A1111's create_random_tensors(all_seeds) does.
 */
export function startRow(inputs: ItemInputs, noise: Float32Array, initLatent: (noise: Float32Array, init?: Float32Array) => Float32Array): RowStart {
  let init = inputs.init;
  if (init && inputs.nmask && inputs.inpaintingFill === 2) {
    const nmask = inputs.nmask;
    init = Float32Array.from(init, (v, i) => v * (1 - nmask[i]) + noise[i] * nmask[i]);
  }
  const scaled = inputs.noiseMultiplier === 1 ? noise : Float32Array.from(noise, (v) => v * inputs.noiseMultiplier);
  return {
    x: initLatent(scaled, init),
    ...(init && inputs.nmask ? { blend: { init, nmask: inputs.nmask } } : {}),
    ...(inputs.concat ? { concat: inputs.concat } : {}),
  };
}

/** After sampling: the final blend (latent); after decoding: the paste-back (pixels). */
export function finishLatent(x: Float32Array, blend?: LatentBlend): Float32Array {
  return blend ? blendLatent(x, blend) : x;
}

export async function finishPixels(
  rgb: Uint8Array,
  width: number,
  height: number,
  inputs: ItemInputs,
): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  if (!inputs.overlay) return { rgb, width, height };
  return { rgb: await applyOverlay(rgb, width, height, inputs.overlay), width: inputs.overlay.width, height: inputs.overlay.height };
}
