// What MODELS_DIR holds, by what a user put there: ONNX model folders (run as they are), single-file checkpoints
// (`name.safetensors`, LDM layout) and diffusers folders with .safetensors weights (both converted on first use),
// VAE files (`name.vae.safetensors`), and pickle files, which are refused and never opened. Pure fs: the gateway
// lists models with it too.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

export type ModelFormat = 'onnx' | 'ldm' | 'diffusers';
export interface ModelEntry {
  name: string;
  format: ModelFormat;
  path: string;
  hasControlNet: boolean;
}
export interface RefusedEntry {
  file: string;
  reason: string;
}
export interface ModelsDirContents {
  models: ModelEntry[];
  vaes: { name: string; path: string }[];
  refused: RefusedEntry[];
}

const PICKLES = ['.ckpt', '.pt', '.pth', '.bin', '.pkl'];
export const pickleRefusal = (file: string) => `${file} is a pickle file; pickles are refused and never unpickled — use the .safetensors version of this model`;

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

function folderFormat(path: string): ModelFormat | RefusedEntry['reason'] | null {
  if (isFile(join(path, 'unet/model.onnx')) && isFile(join(path, 'text_encoder/model.onnx'))) return 'onnx';
  if (!existsSync(join(path, 'unet')) || !existsSync(join(path, 'vae'))) return null;
  const unet = ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors'].some((f) => isFile(join(path, 'unet', f)));
  if (unet) return 'diffusers';
  const pickled = readdirSync(join(path, 'unet')).find((f) => PICKLES.includes(extname(f)));
  return pickled ? pickleRefusal(join(path, 'unet', pickled)) : null;
}

export function scanModelsDir(dir: string): ModelsDirContents {
  const out: ModelsDirContents = { models: [], vaes: [], refused: [] };
  if (!existsSync(dir)) return out;
  const names = new Set<string>();
  const files: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.') || entry.includes('.tmp-')) continue;
    const path = join(dir, entry);
    if (!statSync(path).isDirectory()) {
      files.push(entry);
      continue;
    }
    const format = folderFormat(path);
    if (format === 'onnx' || format === 'diffusers') {
      const hasControlNet = format === 'onnx' && isFile(join(path, 'controlnet/model.onnx')) && isFile(join(path, 'unet_controlnet/model.onnx'));
      out.models.push({ name: entry, format, path, hasControlNet });
      names.add(entry);
    } else if (format) out.refused.push({ file: entry, reason: format });
  }
  for (const file of files) {
    const ext = extname(file).toLowerCase();
    if (PICKLES.includes(ext)) out.refused.push({ file, reason: pickleRefusal(file) });
    else if (/\.vae\.safetensors$/i.test(file)) out.vaes.push({ name: file.replace(/\.safetensors$/i, ''), path: join(dir, file) });
    else if (ext === '.safetensors') {
      const stem = file.slice(0, -ext.length);
      const name = names.has(stem) ? file : stem;
      out.models.push({ name, format: 'ldm', path: join(dir, file), hasControlNet: false });
      names.add(name);
    }
  }
  return out;
}
