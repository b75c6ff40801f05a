// Canny edge detection the way OpenCV's cv2.Canny does it (which the ControlNet canny annotator calls directly,
// without a blur): 3x3 Sobel, L1 magnitude, non-maximum suppression in 4 directions, hysteresis with 8-connectivity.
const TAN_22_5 = Math.tan(Math.PI / 8);
const TAN_67_5 = Math.tan((3 * Math.PI) / 8);

export function toGray(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2]);
  return out;
}

/** 255 on edges, 0 elsewhere. */
export function canny(gray: Uint8Array, width: number, height: number, low: number, high: number): Uint8Array {
  const at = (x: number, y: number) => gray[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))];
  const gx = new Float32Array(width * height);
  const gy = new Float32Array(width * height);
  const mag = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      gx[i] = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      gy[i] = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      mag[i] = Math.abs(gx[i]) + Math.abs(gy[i]);
    }
  }
  const m = (x: number, y: number) => (x < 0 || y < 0 || x >= width || y >= height ? 0 : mag[y * width + x]);
  // 0 = not an edge, 1 = weak candidate, 2 = strong
  const cls = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = mag[i];
      if (v <= low) continue;
      const ax = Math.abs(gx[i]);
      const ay = Math.abs(gy[i]);
      let isMax: boolean;
      if (ay <= ax * TAN_22_5) isMax = v > m(x - 1, y) && v >= m(x + 1, y);
      else if (ay >= ax * TAN_67_5) isMax = v > m(x, y - 1) && v >= m(x, y + 1);
      else {
        const s = gx[i] * gy[i] < 0 ? -1 : 1;
        isMax = v > m(x - s, y - 1) && v >= m(x + s, y + 1);
      }
      if (isMax) cls[i] = v > high ? 2 : 1;
    }
  }
  const out = new Uint8Array(width * height);
  const stack: number[] = [];
  for (let i = 0; i < cls.length; i++)
    if (cls[i] === 2) {
      out[i] = 255;
      stack.push(i);
    }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const x = i % width;
    const y = (i - x) / width;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const j = ny * width + nx;
        if (cls[j] === 1 && out[j] === 0) {
          out[j] = 255;
          stack.push(j);
        }
      }
    }
  }
  return out;
}
