// A1111's "SD upscale" script (scripts/sd_upscale.py): the init image (alpha flattened on white, A1111's
// img2img_background_color) is upscaled by a pixel upscaler, cut into width x height tiles that overlap by `overlap`
// (images.split_grid), each tile is img2img'd — batch_size tiles per call, the first tile of each call one seed after
// the previous call's first, every n_iter pass starting at seed + n — and the tiles are put back with linear blends
// over the overlaps (images.combine_grid: PIL paste through a 0..255 ramp mask). The infotext is the first tile's.
import sharp from 'sharp';
import { ValidationError, EXTRAS_MAX_OUTPUT_PIXELS, type GenerationParams } from '@farm/core';
import { upscaleBy, type ModelLookup, type RgbImage } from './pixel-upscale';
import { encodePng } from '../pipeline/images';
import { addPngText, readPngText } from '../png';

export interface GridTile {
  x: number;
  y: number;
}
export interface Grid {
  tiles: GridTile[][];
  tileW: number;
  tileH: number;
  width: number;
  height: number;
  overlap: number;
}

/** images.split_grid's tile origins: rows of columns, spread evenly, the last one flush with the edge. */
export function splitGrid(width: number, height: number, tileW: number, tileH: number, overlap: number): Grid {
  const cols = Math.ceil((width - overlap) / (tileW - overlap));
  const rows = Math.ceil((height - overlap) / (tileH - overlap));
  const dx = cols > 1 ? (width - tileW) / (cols - 1) : 0;
  const dy = rows > 1 ? (height - tileH) / (rows - 1) : 0;
  const tiles: GridTile[][] = [];
  for (let r = 0; r < rows; r++) {
    let y = Math.trunc(r * dy);
    if (y + tileH >= height) y = height - tileH;
    const row: GridTile[] = [];
    for (let c = 0; c < cols; c++) {
      let x = Math.trunc(c * dx);
      if (x + tileW >= width) x = width - tileW;
      row.push({ x, y });
    }
    tiles.push(row);
  }
  return { tiles, tileW, tileH, width, height, overlap };
}

/** PIL's crop: outside the image is black. */
export function cropRgb(img: RgbImage, x0: number, y0: number, w: number, h: number): RgbImage {
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < w; x++) {
      const sx = x0 + x;
      if (sx < 0 || sx >= img.width) continue;
      img.data.copy(out, (y * w + x) * 3, (sy * img.width + sx) * 3, (sy * img.width + sx) * 3 + 3);
    }
  }
  return { data: out, width: w, height: h };
}

/** Pastes `src` at (x0, y0) into `dst` (clipped); with `mask(x, y)` in 0..255, PIL's blend: (src m + dst (255 - m)) / 255 rounded. */
function paste(dst: RgbImage, src: RgbImage, x0: number, y0: number, mask?: (x: number, y: number) => number): void {
  for (let y = 0; y < src.height; y++) {
    const dy = y0 + y;
    if (dy < 0 || dy >= dst.height) continue;
    for (let x = 0; x < src.width; x++) {
      const dx = x0 + x;
      if (dx < 0 || dx >= dst.width) continue;
      const m = mask ? mask(x, y) : 255;
      for (let c = 0; c < 3; c++) {
        const s = src.data[(y * src.width + x) * 3 + c];
        const d = dst.data[(dy * dst.width + dx) * 3 + c];
        const t = s * m + d * (255 - m) + 128;
        dst.data[(dy * dst.width + dx) * 3 + c] = ((t >> 8) + t) >> 8;
      }
    }
  }
}

/** images.combine_grid: each row's tiles joined left to right over a horizontal ramp, rows top to bottom over a vertical one. */
export function combineGrid(grid: Grid, images: RgbImage[][]): RgbImage {
  const o = grid.overlap;
  // make_mask_image: uint8(i * 255 / overlap) for i in 0..overlap-1
  const ramp = (i: number) => Math.trunc(Math.fround(Math.fround(i * 255) / o));
  const out: RgbImage = { data: Buffer.alloc(grid.width * grid.height * 3), width: grid.width, height: grid.height };
  grid.tiles.forEach((row, r) => {
    const line: RgbImage = { data: Buffer.alloc(grid.width * grid.tileH * 3), width: grid.width, height: grid.tileH };
    row.forEach((t, c) => {
      const tile = images[r][c];
      if (t.x === 0) {
        paste(line, tile, 0, 0);
        return;
      }
      paste(line, cropRgb(tile, 0, 0, o, grid.tileH), t.x, 0, (x) => ramp(x));
      paste(line, cropRgb(tile, o, 0, grid.tileW - o, grid.tileH), t.x + o, 0);
    });
    const y = row[0].y;
    if (y === 0) {
      paste(out, line, 0, 0);
      return;
    }
    paste(out, cropRgb(line, 0, 0, grid.width, o), 0, y, (_x, yy) => ramp(yy));
    paste(out, cropRgb(line, 0, o, grid.width, grid.tileH - o), 0, y + o);
  });
  return out;
}

export interface SdUpscaleContext {
  /** img2img of one batch of tiles (items share everything but init_image and seed); PNGs with infotext */
  render(items: { id: string; params: GenerationParams }[], onStep: (step: number, steps: number) => void): Promise<{ images: Buffer[]; canceled: boolean }[]>;
  model: ModelLookup;
  maxInputPixels: number;
  onStep?(step: number, steps: number): void;
  isCanceled?(): boolean;
}

/** Runs one SD upscale job: its n_iter images, their seeds and infotexts (canceled: nothing). */
export async function runSdUpscale(p: GenerationParams, ctx: SdUpscaleContext): Promise<{ images: Buffer[]; seeds: number[]; infotexts: string[] }> {
  const s = p.sd_upscale!;
  let decoded;
  try {
    decoded = await sharp(Buffer.from(p.init_image!, 'base64'), { limitInputPixels: ctx.maxInputPixels })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ValidationError(`init_image is not a decodable image: ${(e as Error).message.split('\n')[0]}`, 'init_image');
  }
  const init: RgbImage = { data: decoded.data, width: decoded.info.width, height: decoded.info.height };
  const [w, h] = [Math.floor((init.width * s.scale_factor) / 8) * 8, Math.floor((init.height * s.scale_factor) / 8) * 8];
  if (s.upscaler !== 'None' && w * h > EXTRAS_MAX_OUTPUT_PIXELS)
    throw new ValidationError(
      `SD upscale of ${init.width}x${init.height} by ${s.scale_factor} gives ${w}x${h}, more than ${EXTRAS_MAX_OUTPUT_PIXELS} pixels`,
      'script_args',
    );
  const img = s.upscaler === 'None' ? init : await upscaleBy(init, s.scale_factor, s.upscaler, ctx.model, { maxPixels: EXTRAS_MAX_OUTPUT_PIXELS });
  const grid = splitGrid(img.width, img.height, p.width, p.height, s.overlap);
  const work = grid.tiles.flat().map((t) => cropRgb(img, t.x, t.y, p.width, p.height));
  const tilePngs = await Promise.all(work.map(async (t) => (await encodePng(t.data, t.width, t.height)).toString('base64')));
  const calls = Math.ceil(work.length / p.batch_size);
  const totalCalls = calls * p.n_iter;
  let doneCalls = 0;
  const images: Buffer[] = [];
  const seeds: number[] = [];
  let info: string | null = null;
  for (let n = 0; n < p.n_iter; n++) {
    let seed = (p.seed + n) % 2 ** 32;
    const results: RgbImage[] = [];
    for (let i = 0; i < calls; i++) {
      if (ctx.isCanceled?.()) return { images: [], seeds: [], infotexts: [] };
      const batch = tilePngs.slice(i * p.batch_size, (i + 1) * p.batch_size);
      const items = batch.map((tile, j) => ({
        id: `tile-${n}-${i}-${j}`,
        params: { ...p, init_image: tile, batch_size: 1, n_iter: 1, seed: (seed + j) % 2 ** 32, resize_mode: 0 },
      }));
      const out = await ctx.render(items, (step, steps) => ctx.onStep?.(doneCalls * steps + step, totalCalls * steps));
      doneCalls++;
      if (out.some((r) => r.canceled || r.images.length === 0)) return { images: [], seeds: [], infotexts: [] };
      info ??= readPngText(out[0].images[0]).parameters ?? '';
      for (const r of out) {
        const raw = await sharp(r.images[0]).raw().toBuffer({ resolveWithObject: true });
        results.push({ data: raw.data, width: raw.info.width, height: raw.info.height });
      }
      seed = (seed + 1) % 2 ** 32;
    }
    const byRow: RgbImage[][] = [];
    let k = 0;
    for (const row of grid.tiles) byRow.push(row.map(() => results[k++]));
    const combined = combineGrid(grid, byRow);
    images.push(addPngText(await encodePng(combined.data, combined.width, combined.height), 'parameters', info ?? ''));
    seeds.push((p.seed + n) % 2 ** 32);
  }
  return { images, seeds, infotexts: images.map(() => info ?? '') };
}
