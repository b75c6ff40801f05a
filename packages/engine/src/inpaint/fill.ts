// inpainting_fill 0 ("fill"), as A1111's masking.fill: the kept pixels (alpha = 255 - mask), premultiplied, are
// blurred at radii 256, 64, 16, 4, 2, 0 and composited over each other, so the masked area takes the colours of its
// surroundings. PIL's GaussianBlur is three box blurs; this uses three box blurs of the same sigma.
import type { Plane } from './mask';

function boxBlurAxis(src: Float32Array, w: number, h: number, ch: number, r: number, horizontal: boolean): Float32Array {
  if (r <= 0) return src;
  const out = new Float32Array(src.length);
  const n = horizontal ? w : h;
  const lines = horizontal ? h : w;
  const at = (line: number, i: number) => (horizontal ? line * w + i : i * w + line);
  const size = 2 * r + 1;
  for (let line = 0; line < lines; line++) {
    for (let c = 0; c < ch; c++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += src[at(line, Math.min(Math.max(i, 0), n - 1)) * ch + c];
      for (let i = 0; i < n; i++) {
        out[at(line, i) * ch + c] = acc / size;
        acc += src[at(line, Math.min(i + r + 1, n - 1)) * ch + c] - src[at(line, Math.max(i - r, 0)) * ch + c];
      }
    }
  }
  return out;
}

function gaussianBlur(rgba: Float32Array, w: number, h: number, sigma: number): Float32Array {
  if (sigma <= 0) return rgba;
  const r = Math.max(0, Math.floor((Math.sqrt((12 * sigma * sigma) / 3 + 1) - 1) / 2));
  let out = rgba;
  for (let pass = 0; pass < 3; pass++) out = boxBlurAxis(boxBlurAxis(out, w, h, 4, r, true), w, h, 4, r, false);
  return out;
}

/** rgb: interleaved RGB bytes of mask's size; returns the filled RGB. */
export function fillMasked(rgb: Uint8Array, mask: Plane): Uint8Array {
  const { width: w, height: h } = mask;
  const n = w * h;
  const premul = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const a = (255 - mask.data[i]) / 255;
    for (let c = 0; c < 3; c++) premul[i * 4 + c] = rgb[i * 3 + c] * a;
    premul[i * 4 + 3] = a;
  }
  const dst = new Float32Array(n * 4); // straight RGB + alpha in [0, 1], starts transparent
  for (const [radius, repeats] of [
    [256, 1],
    [64, 1],
    [16, 2],
    [4, 4],
    [2, 2],
    [0, 1],
  ]) {
    const blurred = gaussianBlur(premul, w, h, radius);
    for (let rep = 0; rep < repeats; rep++) {
      for (let i = 0; i < n; i++) {
        const sa = blurred[i * 4 + 3];
        if (sa <= 0) continue;
        const da = dst[i * 4 + 3];
        const oa = sa + da * (1 - sa);
        for (let c = 0; c < 3; c++) {
          const sc = blurred[i * 4 + c] / sa;
          dst[i * 4 + c] = (sc * sa + dst[i * 4 + c] * da * (1 - sa)) / oa;
        }
        dst[i * 4 + 3] = oa;
      }
    }
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.min(255, Math.max(0, Math.round(dst[i * 4 + c])));
  return out;
}
