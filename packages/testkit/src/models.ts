// The tiny generated model that tests and the demo use, generated once into .cache/models/tiny.
import { join } from 'node:path';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { generateModelAtomically, writeLoraFixtures } from '@farm/modelgen';

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
