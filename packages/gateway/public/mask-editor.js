// The inpainting mask brush: a canvas the size of the image, laid over it. Painted pixels (opaque) are the mask;
// the eraser clears them. The mask goes to the API as A1111 expects it: a PNG, white where to repaint, black elsewhere.
export class MaskEditor {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.brush = 24;
    this.erase = false;
    this.drawing = false;
    this.last = null;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointercancel', 'pointerleave'])
      canvas.addEventListener(type, () => {
        this.drawing = false;
        this.last = null;
      });
  }

  /** Sizes the canvas to the image's pixels and clears it. */
  reset(width, height) {
    this.canvas.width = width;
    this.canvas.height = height;
    this.clear();
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** The point in canvas pixels under a pointer event (the canvas is shown scaled). */
  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * this.canvas.width, y: ((e.clientY - r.top) / r.height) * this.canvas.height };
  }

  /** The brush radius in canvas pixels: the size slider is in screen pixels, as it looks. */
  radius() {
    const r = this.canvas.getBoundingClientRect();
    return (this.brush / 2) * (r.width ? this.canvas.width / r.width : 1);
  }

  down(e) {
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    this.last = this.point(e);
    this.stroke(this.last, this.last);
  }

  move(e) {
    if (!this.drawing) return;
    const p = this.point(e);
    this.stroke(this.last, p);
    this.last = p;
  }

  stroke(from, to) {
    const c = this.ctx;
    c.globalCompositeOperation = this.erase ? 'destination-out' : 'source-over';
    c.strokeStyle = c.fillStyle = '#fff';
    c.lineWidth = this.radius() * 2;
    c.lineCap = c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
  }

  /** Painted becomes unpainted and the reverse. */
  invert() {
    const { width, height } = this.canvas;
    if (!width || !height) return;
    const img = this.ctx.getImageData(0, 0, width, height);
    for (let i = 0; i < img.data.length; i += 4) {
      const on = img.data[i + 3] > 0;
      img.data[i] = img.data[i + 1] = img.data[i + 2] = 255;
      img.data[i + 3] = on ? 0 : 255;
    }
    this.ctx.putImageData(img, 0, 0);
  }

  isEmpty() {
    const { width, height } = this.canvas;
    if (!width || !height) return true;
    const data = this.ctx.getImageData(0, 0, width, height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return false;
    return true;
  }

  /** The mask as a PNG data URL: white where painted, black elsewhere. */
  toMask() {
    const out = document.createElement('canvas');
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const c = out.getContext('2d');
    c.fillStyle = '#000';
    c.fillRect(0, 0, out.width, out.height);
    c.drawImage(this.canvas, 0, 0);
    return out.toDataURL('image/png');
  }
}
