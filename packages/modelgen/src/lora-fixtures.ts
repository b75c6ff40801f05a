// LoRA fixture files for a generated model, in both key styles: kohya (fp16, alpha != rank, UNet attention and
// text encoder projections) and diffusers/PEFT (fp32 lora_A/lora_B, UNet attention and feed-forward).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linearWeights, loadModelProto, writeSafetensors } from '@farm/engine/lora';
import { SeededRandom } from './seeded-random';

export interface LoraFixtureFiles {
  kohya: string;
  diffusers: string;
}

export function writeLoraFixtures(modelDir: string, outDir: string, opts: { seed?: number; rank?: number } = {}): LoraFixtureFiles {
  const rng = new SeededRandom(opts.seed ?? 7);
  const rank = opts.rank ?? 4;
  const unet = linearWeights(loadModelProto(join(modelDir, 'unet/model.onnx')));
  const te = linearWeights(loadModelProto(join(modelDir, 'text_encoder/model.onnx')));
  mkdirSync(outDir, { recursive: true });
  const pair = (inF: number, outF: number, dtype: 'F16' | 'F32') => ({
    down: { dtype, shape: [rank, inF], data: rng.normal(rank * inF, 0.5) },
    up: { dtype, shape: [outF, rank], data: rng.normal(outF * rank, 0.5) },
  });
  const kohya: Record<string, { dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; data: Float32Array }> = {};
  for (const [module, w] of unet) {
    if (!/attn[12]\.to_(q|k|v|out\.0)$/.test(module)) continue;
    const p = pair(w.inFeatures, w.outFeatures, 'F16');
    const key = `lora_unet_${module.replace(/\./g, '_')}`;
    kohya[`${key}.lora_down.weight`] = p.down;
    kohya[`${key}.lora_up.weight`] = p.up;
    kohya[`${key}.alpha`] = { dtype: 'F16', shape: [], data: Float32Array.of(rank / 2) };
  }
  for (const [module, w] of te) {
    if (!/self_attn\.(q|k|v|out)_proj$/.test(module)) continue;
    const p = pair(w.inFeatures, w.outFeatures, 'F16');
    const key = `lora_te_${module.replace(/\./g, '_')}`;
    kohya[`${key}.lora_down.weight`] = p.down;
    kohya[`${key}.lora_up.weight`] = p.up;
    kohya[`${key}.alpha`] = { dtype: 'F16', shape: [], data: Float32Array.of(rank / 2) };
  }
  const diffusers: typeof kohya = {};
  for (const [module, w] of unet) {
    if (!/(attn[12]\.to_(q|v)|ff\.net\.(0\.proj|2))$/.test(module)) continue;
    const p = pair(w.inFeatures, w.outFeatures, 'F32');
    diffusers[`unet.${module}.lora_A.weight`] = p.down;
    diffusers[`unet.${module}.lora_B.weight`] = p.up;
  }
  const files = { kohya: join(outDir, 'tiny-style-kohya.safetensors'), diffusers: join(outDir, 'tiny-detail-diffusers.safetensors') };
  writeFileSync(files.kohya, writeSafetensors(kohya, { ss_network_module: 'networks.lora', ss_network_dim: String(rank), ss_network_alpha: String(rank / 2) }));
  writeFileSync(files.diffusers, writeSafetensors(diffusers, { format: 'pt' }));
  return files;
}
