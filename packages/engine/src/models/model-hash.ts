// A model's sha256 as A1111 reports it (sd-models `sha256`, short `hash` = first 10 hex digits, infotext
// "Model hash"). A folder converted from a checkpoint names the source's hash in `checkpoint.sha256`; otherwise the
// hash is of the UNet weights (the largest file under unet/: model.onnx, or its external data). Hashes are cached per
// file size and modification time, and computed by streaming, so large models do not block.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const cache = new Map<string, { stamp: string; sha256: Promise<string> }>();

function weightsFile(modelPath: string): string {
  const dir = join(modelPath, 'unet');
  const files = readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
  return files.sort((a, b) => statSync(b).size - statSync(a).size || a.localeCompare(b))[0] ?? join(dir, 'model.onnx');
}

/** The sha256 of a model: a single checkpoint file (A1111's own hash), or an ONNX folder as described above. */
export function modelSha256(modelPath: string): Promise<string> {
  if (statSync(modelPath).isFile()) return cachedSha256(modelPath, modelPath);
  const source = join(modelPath, 'checkpoint.sha256');
  if (existsSync(source)) {
    const text = readFileSync(source, 'utf8').trim().toLowerCase();
    if (/^[0-9a-f]{64}$/.test(text.slice(0, 64))) return Promise.resolve(text.slice(0, 64));
  }
  return cachedSha256(modelPath, weightsFile(modelPath));
}

function cachedSha256(key: string, file: string): Promise<string> {
  const st = statSync(file);
  const stamp = `${file}|${st.size}|${st.mtimeMs}`;
  const hit = cache.get(key);
  if (hit && hit.stamp === stamp) return hit.sha256;
  const sha256 = fileSha256(file);
  cache.set(key, { stamp, sha256 });
  sha256.catch(() => cache.delete(key));
  return sha256;
}

/** A file's sha256, streamed. */
export function fileSha256(file: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** A1111's shorthash: the first 10 hex digits. */
export const shortHash = (sha256: string): string => sha256.slice(0, 10);
