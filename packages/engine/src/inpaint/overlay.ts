// Paste-back after decoding, as A1111's apply_overlay: with "only masked" the generated crop is resized into its box
// on a transparent canvas of the original size; then the original pixels, opaque where the (blurred) mask is 0,
// are composited over it. Pixels the mask does not touch come back exactly as they were.
import sharp from 'sharp';

export interface Overlay {
  /** the original pixels at the output size, interleaved RGB */
  rgb: Uint8Array;
  /** their opacity: 255 - mask_for_overlay */
  alpha: Uint8Array;
  width: number;
  height: number;
  /** "only masked": where the generated image goes [x, y, w, h] */
  pasteTo?: [number, number, number, number];
}

export async function applyOverlay(generated: Uint8Array, genWidth: number, genHeight: number, o: Overlay): Promise<Buffer> {
  const n = o.width * o.height;
  let base = Buffer.from(generated);
  let baseAlpha: Uint8Array | null = null;
  if (o.pasteTo) {
    const [x, y, w, h] = o.pasteTo;
    const fitted = await sharp(generated, { raw: { width: genWidth, height: genHeight, channels: 3 } })
      .resize(w, h, { fit: 'cover', position: 'centre' })
      .raw()
      .toBuffer();
    base = Buffer.alloc(n * 3);
    baseAlpha = new Uint8Array(n);
    for (let row = 0; row < h; row++) {
      fitted.copy(base, ((y + row) * o.width + x) * 3, row * w * 3, (row + 1) * w * 3);
      baseAlpha.fill(255, (y + row) * o.width + x, (y + row) * o.width + x + w);
    }
  }
  const out = Buffer.alloc(n * 3);
  for (let i = 0; i < n; i++) {
    const oa = o.alpha[i] / 255;
    const ba = baseAlpha ? baseAlpha[i] / 255 : 1;
    const a = oa + ba * (1 - oa);
    for (let c = 0; c < 3; c++) {
      const v = a === 0 ? 0 : (o.rgb[i * 3 + c] * oa + base[i * 3 + c] * ba * (1 - oa)) / a;
      out[i * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return out;
}
