// Pure mask operations, as A1111's img2img prepares an inpainting mask: binary mask from the upload (create_binary_mask),
// invert, separable Gaussian blur (cv2.GaussianBlur with A1111's kernel size), the crop region around the mask
// (masking.get_crop_region_v2 + padding) and its expansion to the processing aspect ratio (masking.expand_crop_region).

/** One 8-bit channel, row-major. */
export interface Plane {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * RGBA pixels -> L mask. An upload whose alpha is not all opaque is an alpha mask (the alpha channel, thresholded at
 * >128 when `round`); otherwise the luminance (ITU-R 601-2, as PIL's convert('L')).
 */
export function binaryMask(rgba: Uint8Array, width: number, height: number, round: boolean): Plane {
  const n = width * height;
  const out = new Uint8Array(n);
  let translucent = false;
  for (let i = 0; i < n; i++)
    if (rgba[i * 4 + 3] !== 255) {
      translucent = true;
      break;
    }
  for (let i = 0; i < n; i++) {
    if (translucent) {
      const a = rgba[i * 4 + 3];
      out[i] = round ? (a > 128 ? 255 : 0) : a;
    } else {
      const [r, g, b] = [rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]];
      out[i] = Math.trunc((r * 19595 + g * 38470 + b * 7471 + 0x8000) / 65536);
    }
  }
  return { data: out, width, height };
}

export function invert(m: Plane): Plane {
  return { ...m, data: Uint8Array.from(m.data, (v) => 255 - v) };
}

/** cv2.getGaussianKernel(size, sigma) */
function gaussianKernel(size: number, sigma: number): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
    sum += k[i];
  }
  for (let i = 0; i < size; i++) k[i] /= sum;
  return k;
}

/** BORDER_REFLECT_101: ...c b | a b c d | c b... */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/** A1111's mask blur: kernel 2*int(2.5*sigma+0.5)+1 along x, then along y; 8-bit results rounded. */
export function blurMask(m: Plane, sigmaX: number, sigmaY: number): Plane {
  let data = m.data;
  const { width: w, height: h } = m;
  const pass = (src: Uint8Array, sigma: number, horizontal: boolean) => {
    const size = 2 * Math.trunc(2.5 * sigma + 0.5) + 1;
    const k = gaussianKernel(size, sigma);
    const r = (size - 1) / 2;
    const out = new Uint8Array(src.length);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let j = 0; j < size; j++) {
          const v = horizontal ? src[y * w + reflect101(x + j - r, w)] : src[reflect101(y + j - r, h) * w + x];
          acc += v * k[j];
        }
        out[y * w + x] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
    return out;
  };
  if (sigmaX > 0) data = pass(data, sigmaX, true);
  if (sigmaY > 0) data = pass(data, sigmaY, false);
  return { data, width: w, height: h };
}

export type Box = [x1: number, y1: number, x2: number, y2: number];

/** The bounding box of the non-zero pixels, grown by `pad` and clipped to the image; null for an empty mask. */
export function cropRegion(m: Plane, pad: number): Box | null {
  let [x1, y1, x2, y2] = [m.width, m.height, -1, -1];
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x] === 0) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
    }
  }
  if (x2 < 0) return null;
  return [Math.max(x1 - pad, 0), Math.max(y1 - pad, 0), Math.min(x2 + 1 + pad, m.width), Math.min(y2 + 1 + pad, m.height)];
}

/** Grows the box to the aspect ratio of width x height (the processing size), staying inside the image. */
export function expandCropRegion(box: Box, width: number, height: number, imageWidth: number, imageHeight: number): Box {
  let [x1, y1, x2, y2] = box;
  const ratioCrop = (x2 - x1) / (y2 - y1);
  const ratioProcessing = width / height;
  if (ratioCrop > ratioProcessing) {
    const diff = Math.trunc((x2 - x1) / ratioProcessing - (y2 - y1));
    y1 -= Math.floor(diff / 2);
    y2 += diff - Math.floor(diff / 2);
    if (y2 >= imageHeight) {
      const d = y2 - imageHeight;
      y2 -= d;
      y1 -= d;
    }
    if (y1 < 0) {
      y2 -= y1;
      y1 = 0;
    }
    if (y2 >= imageHeight) y2 = imageHeight;
  } else {
    const diff = Math.trunc((y2 - y1) * ratioProcessing - (x2 - x1));
    x1 -= Math.floor(diff / 2);
    x2 += diff - Math.floor(diff / 2);
    if (x2 >= imageWidth) {
      const d = x2 - imageWidth;
      x2 -= d;
      x1 -= d;
    }
    if (x1 < 0) {
      x2 -= x1;
      x1 = 0;
    }
    if (x2 >= imageWidth) x2 = imageWidth;
  }
  return [x1, y1, x2, y2];
}

export function cropPlane(m: Plane, [x1, y1, x2, y2]: Box): Plane {
  const w = x2 - x1;
  const h = y2 - y1;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) out.set(m.data.subarray((y1 + y) * m.width + x1, (y1 + y) * m.width + x2), y * w);
  return { data: out, width: w, height: h };
}

/** mask_for_overlay outside "only masked": the resized mask doubled and clipped, so it is fully opaque from 128 up. */
export function doubled(m: Plane): Plane {
  return { ...m, data: Uint8Array.from(m.data, (v) => Math.min(255, v * 2)) };
}
