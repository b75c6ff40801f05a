// The tiny generated model that tests and the demo use, generated once into .cache/models/tiny.
import { join } from 'node:path';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { generateEsrgan, generateModelAtomically, writeLoraFixtures } from '@farm/modelgen';

const repoRoot = new URL('../../..', import.meta.url).pathname;

export const TEST_MODELS_DIR = join(repoRoot, '.cache/models');

export async function ensureTinyModel(): Promise<{ modelsDir: string; name: 'tiny' }> {
  await generateModelAtomically({ preset: 'tiny', outDir: join(TEST_MODELS_DIR, 'tiny'), seed: 1 });
  return { modelsDir: TEST_MODELS_DIR, name: 'tiny' };
}

/** The tiny Taiyi-shaped model (BERT text encoder, WordPiece vocabulary with Chinese characters), in a models folder
 * of its own so tests that list .cache/models keep seeing tiny alone. */
export const TEST_TAIYI_MODELS_DIR = join(repoRoot, '.cache/models-taiyi');

export async function ensureTinyTaiyiModel(): Promise<{ modelsDir: string; name: 'tiny-taiyi' }> {
  await generateModelAtomically({ preset: 'tiny-taiyi', outDir: join(TEST_TAIYI_MODELS_DIR, 'tiny-taiyi'), seed: 1, controlnet: false });
  return { modelsDir: TEST_TAIYI_MODELS_DIR, name: 'tiny-taiyi' };
}

/** Models beside tiny for tests that need them (kept apart so tests listing TEST_MODELS_DIR still see only tiny). */
export const EXTRA_MODELS_DIR = join(repoRoot, '.cache/models-extra');

/** The tiny inpainting model (9-channel UNet), generated once into .cache/models-extra/tiny-inpaint. */
export async function ensureTinyInpaintModel(): Promise<{ modelsDir: string; name: 'tiny-inpaint' }> {
  await generateModelAtomically({ preset: 'tiny-inpaint', outDir: join(EXTRA_MODELS_DIR, 'tiny-inpaint'), seed: 1 });
  return { modelsDir: EXTRA_MODELS_DIR, name: 'tiny-inpaint' };
}

export const TEST_LORA_DIR = join(repoRoot, '.cache/loras');

/** The tiny model plus its LoRA fixtures (kohya and diffusers key styles) in .cache/loras. */
export async function ensureTinyLoras(): Promise<{ modelsDir: string; loraDir: string; names: string[] }> {
  const { modelsDir } = await ensureTinyModel();
  const names = ['tiny-detail-diffusers', 'tiny-style-kohya'];
  if (!names.every((n) => existsSync(join(TEST_LORA_DIR, `${n}.safetensors`)))) {
    const tmp = `${TEST_LORA_DIR}.tmp-${process.pid}`;
    writeLoraFixtures(join(modelsDir, 'tiny'), tmp);
    mkdirSync(TEST_LORA_DIR, { recursive: true });
    for (const n of names) renameSync(join(tmp, `${n}.safetensors`), join(TEST_LORA_DIR, `${n}.safetensors`));
  }
  return { modelsDir, loraDir: TEST_LORA_DIR, names };
}

export const TEST_UPSCALERS_DIR = join(repoRoot, '.cache/upscalers');

/** A small ESRGAN-shaped x4 upscaler model with random weights, in .cache/upscalers. */
export async function ensureTinyUpscaler(): Promise<{ upscalersDir: string; name: '4x-tiny-esrgan' }> {
  const path = join(TEST_UPSCALERS_DIR, '4x-tiny-esrgan.onnx');
  if (!existsSync(path)) {
    const tmp = `${path}.tmp-${process.pid}`;
    generateEsrgan(tmp, { seed: 1 });
    renameSync(tmp, path);
  }
  return { upscalersDir: TEST_UPSCALERS_DIR, name: '4x-tiny-esrgan' };
}
