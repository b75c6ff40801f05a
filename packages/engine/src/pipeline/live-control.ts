// What happens to a batch between steps besides sampling: A1111's interrupt (the current iteration of n_iter ends
// now with its current latents, later ones never start), skip (only the current iteration ends now), and live
// previews every N steps (A1111's "Approx cheap" latent -> RGB, a grid of the iteration's images).
import { gridLayout, type GenerationParams } from '@farm/core';
import type { Row } from './denoise';

/** A1111's cheap_approximation for SD1.x latents: a fixed 4 -> 3 linear map, then (x + 1) / 2 to bytes. */
const CHEAP_COEFFS = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

/** A [4, h, w] latent -> interleaved RGB bytes [h, w, 3] at latent resolution. */
export function cheapApproximation(latent: Float32Array, h: number, w: number): Buffer {
  const plane = h * w;
  const out = Buffer.alloc(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let l = 0; l < 4; l++) v += latent[l * plane + i] * CHEAP_COEFFS[l][c];
      const byte = (v * 0.5 + 0.5) * 255;
      out[i * 3 + c] = byte <= 0 ? 0 : byte >= 255 ? 255 : Math.trunc(byte);
    }
  }
  return out;
}

/** The rows' previews side by side in A1111's grid layout, as RGB bytes. */
export function previewGrid(latents: Float32Array[], h: number, w: number): { rgb: Buffer; width: number; height: number } {
  const { rows, cols } = gridLayout(latents.length, latents.length);
  const width = cols * w;
  const height = rows * h;
  const rgb = Buffer.alloc(width * height * 3);
  latents.forEach((latent, n) => {
    const tile = cheapApproximation(latent, h, w);
    const [x0, y0] = [(n % cols) * w, Math.floor(n / cols) * h];
    for (let y = 0; y < h; y++) tile.copy(rgb, ((y0 + y) * width + x0) * 3, y * w * 3, (y + 1) * w * 3);
  });
  return { rgb, width, height };
}

export interface LiveHooks {
  /** A1111 interrupt asked for this item */
  interrupted?(id: string): boolean;
  /** how many A1111 skips were asked for this item */
  skips?(id: string): number;
  onPreview?(id: string, step: number, preview: { rgb: Buffer; width: number; height: number }): void;
}

/** Between steps: which rows end now with their current latent, which are dropped, and the previews to send. */
export function liveControl(items: { id: string; params: GenerationParams }[], latentDims: [number, number, number], hooks: LiveHooks) {
  const skipsDone = new Map<string, number>();
  const iteration = (r: Row) => r.iteration ?? 0;
  return (live: Row[], step: number): { finish: Row[]; drop: Row[] } => {
    const finish: Row[] = [];
    const drop: Row[] = [];
    for (const { id, params } of items) {
      let rows = live.filter((r) => r.itemId === id);
      if (rows.length === 0) continue;
      const current = () => Math.min(...rows.map(iteration));
      let done = skipsDone.get(id) ?? 0;
      for (const wanted = hooks.skips?.(id) ?? 0; done < wanted && rows.length > 0; done++) {
        const it = current();
        finish.push(...rows.filter((r) => iteration(r) === it));
        rows = rows.filter((r) => iteration(r) !== it);
      }
      skipsDone.set(id, done);
      if (rows.length > 0 && hooks.interrupted?.(id)) {
        const it = current();
        finish.push(...rows.filter((r) => iteration(r) === it));
        drop.push(...rows.filter((r) => iteration(r) !== it));
        rows = [];
      }
      const every = params.live_preview_every ?? 0;
      if (rows.length > 0 && every > 0 && step % every === 0 && hooks.onPreview) {
        const it = current();
        const latents = rows.filter((r) => iteration(r) === it).map((r) => (r.run.done ? r.x : r.run.scaleInput(r.x)));
        hooks.onPreview(id, step, previewGrid(latents, latentDims[1], latentDims[2]));
      }
    }
    return { finish, drop };
  };
}
