// The checkpoint importer a worker's engine uses: checkpoints and diffusers folders dropped into MODELS_DIR are
// converted by the generator's importer. A module of its own so the engine thread can import it (functions do not
// cross threads).
import type { ModelImporter } from '@farm/engine';
import { importCheckpoint, CheckpointError, GRAPH_VERSION } from '@farm/modelgen';
import { BadInputError, TransientError } from '@farm/core';

export const importer: ModelImporter = async (source, outDir, { extraFiles, onProgress }) => {
  try {
    await importCheckpoint(source.path, { outDir, extraFiles, onProgress });
  } catch (e) {
    // a checkpoint that cannot become a model fails its jobs at once (no retries); I/O faults retry
    if (e instanceof CheckpointError) throw new BadInputError(e.message, 'bad_checkpoint');
    throw new TransientError(`converting ${source.path} failed: ${(e as Error).message}`, { cause: e });
  }
};
// conversions are kept per graph version: a new generator graph converts again
importer.version = `graph${GRAPH_VERSION}`;
