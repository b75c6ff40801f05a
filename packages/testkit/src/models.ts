// The tiny generated model that tests and the demo use, generated once into .cache/models/tiny.
import { join } from 'node:path';
import { generateModelAtomically } from '@farm/modelgen';

const repoRoot = new URL('../../..', import.meta.url).pathname;

export const TEST_MODELS_DIR = join(repoRoot, '.cache/models');

export async function ensureTinyModel(): Promise<{ modelsDir: string; name: 'tiny' }> {
  await generateModelAtomically({ preset: 'tiny', outDir: join(TEST_MODELS_DIR, 'tiny'), seed: 1 });
  return { modelsDir: TEST_MODELS_DIR, name: 'tiny' };
}
