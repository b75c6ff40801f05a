// Peak memory of a render, estimated from a model's shapes, so that a worker never starts what it cannot finish: the
// engine splits batches to fit its budget, and the gateway refuses (422) what fits no live worker. Pure arithmetic;
// the engine reads the profile from the model's graphs and workers advertise it in their heartbeat.
//
// Calibrated on the tiny model (bench `memory`: peak RSS of real runs in processes of their own) and kept
// conservative: the estimate is above every measured peak. Each phase's onnxruntime session keeps its own arena at
// its peak, so the phases add up rather than take turns.
import { ValidationError } from './errors';
import { hiresTarget } from './image-fields';
import type { GenerationParams } from './types';

/** The int64 initializer in which generated graphs record their attention slice size (modelgen writes it, the engine reads it). */
export const ATTENTION_SLICE_INITIALIZER = 'farm::attention_slice_elements';

/** What a model's memory use depends on, read from its graphs (`Engine.memoryProfile`). */
export interface ModelMemoryProfile {
  /** bytes of the weights of the networks a render loads (text encoder, UNet, VAE), on disk */
  weightsBytes: number;
  /** UNet channels at full latent resolution (its first block) */
  unetChannels: number;
  /** attention heads of the UNet's first transformer (the one over the most tokens) */
  unetHeads: number;
  /** VAE decoder channels at full image resolution (its last block) */
  vaeChannels: number;
  /** elements of one attention score slice when attention runs in query slices; 0: full score matrices */
  attentionSlice: number;
}

/** One render as the estimate sees it: what runs in one UNet batch and one VAE call. */
export interface RenderShape {
  width: number;
  height: number;
  /** images denoised together (one UNet batch) */
  images: number;
  /** the UNet batch also holds an unconditional row per image (CFG), and one row per AND part */
  rowsPerImage: number;
  /** 75-token chunks of the longest prompt: the cross-attention keys are 77 x chunks */
  chunks: number;
  /** images per VAE decoder call */
  vaeImages: number;
  /** img2img: the VAE encoder runs at full size too */
  encodes?: boolean;
  /** ControlNet: its network runs beside the UNet at the same batch */
  controlnet?: boolean;
}

/**
 * The render shape of a request, without its batch: the largest size it runs at (the hires target, when larger),
 * its UNet rows per image (uncond + AND parts), `chunks` 75-token chunks and `vaeImages` images per VAE call.
 */
export function renderShapeOf(p: GenerationParams, chunks: number, vaeImages: number): Omit<RenderShape, 'images'> {
  const target = p.hires ? hiresTarget(p.width, p.height, p.hires) : null;
  const larger = target && target.toX * target.toY > p.width * p.height;
  return {
    width: larger ? target.toX : p.width,
    height: larger ? target.toY : p.height,
    rowsPerImage: promptParts(p.prompt) + 1,
    chunks,
    vaeImages,
    encodes: p.kind === 'img2img' || !!p.hires,
    controlnet: p.controlnet.length > 0,
  };
}

/**
 * A worker process before any activation: node, onnxruntime, sharp, Redis clients and the engine thread with its own
 * V8 heap and compiled sources. A bare engine process measures ~160 MiB; a worker process peaked ~480 MiB above that
 * bare process at the same render (test/worker-memory.test.ts), so this is rounded up from ~640 MiB.
 */
export const PROCESS_BASE_BYTES = 768 * 2 ** 20;
/** weights in memory per byte on disk (onnxruntime pre-packs matrix weights beside the originals while loading) */
const WEIGHTS_FACTOR = 1.5;
/** UNet activations per latent pixel, batch row and first-block channel (measured ~68 bytes: 17 float32 tensors) */
const UNET_BYTES_PER_PIXEL_CHANNEL = 96;
/** VAE activations per image pixel and last-block channel (measured ~34 bytes: 8.5 float32 tensors) */
const VAE_BYTES_PER_PIXEL_CHANNEL = 48;
/** score-sized float32 tensors alive in one attention (scores, scaled scores, softmax; measured ~2.1) */
const ATTENTION_TENSORS = 3;
const TOKENS_PER_CHUNK = 77;

/** bytes of the largest attention: [rows, heads, queries, keys] float32 scores, or one slice of them */
function attentionBytes(profile: ModelMemoryProfile, rows: number, heads: number, queries: number, keys: number): number {
  const full = rows * heads * queries * keys;
  // a slice holds at least one query row
  const held = profile.attentionSlice > 0 ? Math.min(full, Math.max(profile.attentionSlice, rows * heads * keys)) : full;
  return ATTENTION_TENSORS * 4 * held;
}

/** Estimated peak resident bytes of a worker process rendering `shape` with `profile`'s model. */
export function estimatePeakBytes(profile: ModelMemoryProfile, shape: RenderShape): number {
  const latent = Math.ceil(shape.height / 8) * Math.ceil(shape.width / 8);
  const pixels = shape.width * shape.height;
  const rows = shape.images * shape.rowsPerImage;
  const keys = TOKENS_PER_CHUNK * shape.chunks;
  const unet =
    rows * latent * profile.unetChannels * UNET_BYTES_PER_PIXEL_CHANNEL +
    Math.max(attentionBytes(profile, rows, profile.unetHeads, latent, latent), attentionBytes(profile, rows, profile.unetHeads, latent, keys));
  // the VAE's mid-block attention is single-headed over the latent's pixels
  const vae = (images: number) => images * pixels * profile.vaeChannels * VAE_BYTES_PER_PIXEL_CHANNEL + attentionBytes(profile, images, 1, latent, latent);
  return (
    PROCESS_BASE_BYTES +
    WEIGHTS_FACTOR * profile.weightsBytes +
    unet * (shape.controlnet ? 2 : 1) +
    vae(Math.min(shape.vaeImages, shape.images)) +
    (shape.encodes ? vae(1) : 0)
  );
}

/** The most images (up to `max`) whose UNet batch fits `budget`; 0 when not even one does. */
export function imagesThatFit(profile: ModelMemoryProfile, shape: Omit<RenderShape, 'images'>, budget: number, max: number): number {
  let fit = 0;
  for (let n = 1; n <= max; n++) {
    if (estimatePeakBytes(profile, { ...shape, images: n }) > budget) break;
    fit = n;
  }
  return fit;
}

/**
 * How a worker splits `total` images to stay within `budget`: images per UNet batch and per VAE call (at most
 * `shape.vaeImages`, fewer when a call of that many does not fit); null when one image does not fit.
 */
export function planBatches(
  profile: ModelMemoryProfile,
  shape: Omit<RenderShape, 'images'>,
  budget: number,
  total: number,
): { images: number; vaeImages: number } | null {
  for (let vaeImages = Math.max(1, shape.vaeImages); vaeImages >= 1; vaeImages = vaeImages > 1 ? Math.floor(vaeImages / 2) : 0) {
    const images = imagesThatFit(profile, { ...shape, vaeImages }, budget, total);
    if (images > 0) return { images, vaeImages: Math.min(vaeImages, images) };
  }
  return null;
}

const MiB = (b: number) => `${Math.ceil(b / 2 ** 20)} MiB`;

/**
 * Throws a ValidationError when one image of this shape does not fit `budget`: naming `prompt` when its composable
 * parts (each a UNet row) make the difference, else width and height.
 */
export function checkFitsMemory(model: string, profile: ModelMemoryProfile, shape: Omit<RenderShape, 'images'>, budget: number, where: string): void {
  const least = { ...shape, images: 1, vaeImages: 1 };
  const need = estimatePeakBytes(profile, least);
  if (need <= budget) return;
  if (shape.rowsPerImage > 2 && estimatePeakBytes(profile, { ...least, rowsPerImage: 2 }) <= budget) {
    throw new ValidationError(
      `prompt: its ${shape.rowsPerImage - 1} AND parts at ${shape.width}x${shape.height} on model "${model}" need about ${MiB(need)}, more than ${where} (${MiB(budget)}); use fewer AND parts`,
      'prompt',
    );
  }
  throw new ValidationError(
    `${shape.width}x${shape.height} on model "${model}" needs about ${MiB(need)} for one image, more than ${where} (${MiB(budget)}); choose a smaller width x height`,
    'width',
    [
      { field: 'width', message: "too large for the workers' memory" },
      { field: 'height', message: "too large for the workers' memory" },
    ],
  );
}

/**
 * The fewest 75-token chunks a prompt can take, counted without its tokenizer (the gateway's check; the worker counts
 * exactly): every `BREAK` ends a chunk and every word with a letter or digit is at least one token. Text in square
 * brackets (prompt editing, alternation: each schedule holds only some of it) is not counted, and composable parts
 * (`AND`) are chunked apart, so the count never exceeds the real one.
 */
export function minPromptChunks(prompt: string): number {
  let text = prompt;
  for (let before = ''; before !== text;) {
    before = text;
    text = text.replace(/\[[^[\]]*\]/g, ' ');
  }
  return text
    .split(/\bAND\b/)
    .map((part) => {
      const pieces = part.split(/\bBREAK\b/);
      // text after the last BREAK starts a chunk only when there is some
      if (pieces.length > 1 && pieces[pieces.length - 1].trim() === '') pieces.pop();
      return pieces.reduce((n, piece) => n + Math.max(1, Math.ceil((piece.match(/\S*[\p{L}\p{N}]\S*/gu)?.length ?? 0) / 75)), 0);
    })
    .reduce((a, b) => Math.max(a, b), 1);
}

/** Composable-diffusion parts of a positive prompt (A1111 splits the whole text on `AND`): UNet rows per image. */
export function promptParts(prompt: string): number {
  return prompt.split(/\bAND\b/).length;
}

/** Throws a ValidationError naming the field when a prompt needs more than `max` chunks. */
export function checkPromptChunks(field: string, chunks: number, max: number): void {
  if (chunks > max) throw new ValidationError(`${field} needs ${chunks} chunks of 75 tokens, more than the maximum of ${max} (MAX_PROMPT_CHUNKS)`, field);
}
