// Checkpoints as A1111 lists them: title "name.safetensors [shorthash]", model_name, hash, sha256, filename, config.
// Hashes come from MODELS_DIR when this gateway shares it with the workers (a checkpoint file's own sha256, as A1111;
// an ONNX folder's per engine/models/model-hash); otherwise they are null.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { modelSha256, shortHash } from '@farm/engine/model-hash';
import type { Catalog } from '@farm/core';

export interface SdModel {
  title: string;
  model_name: string;
  hash: string | null;
  sha256: string | null;
  filename: string;
  config: string | null;
}

export async function sdModels(catalog: Catalog, modelsDir: string): Promise<SdModel[]> {
  return Promise.all(
    catalog.models.map(async (name) => {
      const file = resolve(modelsDir, `${name}.safetensors`);
      const path = existsSync(file) ? file : resolve(modelsDir, name);
      const sha256 = path === file || existsSync(join(path, 'unet')) ? await modelSha256(path).catch(() => null) : null;
      const hash = sha256 ? shortHash(sha256) : null;
      return { title: `${name}.safetensors${hash ? ` [${hash}]` : ''}`, model_name: name, hash, sha256, filename: path, config: null };
    }),
  );
}

/** A1111's checkpoint_aliases: title, name with or without extension, short hash or sha256 -> the model's name. */
export function resolveCheckpoint(alias: string, models: SdModel[]): string | null {
  const a = alias.trim();
  const stripped = a.replace(/\s*\[[0-9a-f]+\]\s*$/i, '').replace(/\.(safetensors|ckpt|onnx)$/i, '');
  const hit = models.find(
    (m) => m.title === a || m.model_name === a || m.model_name === stripped || (m.hash !== null && m.hash === a) || (m.sha256 !== null && m.sha256 === a),
  );
  return hit?.model_name ?? null;
}
