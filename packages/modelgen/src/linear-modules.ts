// The Linear layers and the learned parameters of a generated network, by module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`),
// i.e. the node `/<path with dots between segments as slashes>/MatMul`. LoRA fixtures and tests key on these.
import { GraphBuilder, type WeightEntry } from './onnx-builder';
import { buildVaeDecoder, buildVaeEncoder } from './vae';
import { SeededRandom } from './seeded-random';
import { buildTextEncoder } from './clip-text-encoder';
import { buildBertTextEncoder } from './bert-text-encoder';
import { buildUNet } from './unet';
import { presets, type ModelConfig } from './presets';

export function listLinearModules(config: ModelConfig | keyof typeof presets, network: 'unet' | 'text_encoder'): string[] {
  const c = typeof config === 'string' ? presets[config] : config;
  const g = new GraphBuilder(new SeededRandom(0), true);
  if (network === 'unet') buildUNet(g, c.unet, { withResiduals: false });
  else if (c.textEncoder.kind === 'bert') buildBertTextEncoder(g, c.textEncoder);
  else buildTextEncoder(g, c.textEncoder);
  return [...g.linearModules];
}

/** Every learned parameter of a network (the VAE: encoder and decoder together), with its torch name and shape. */
export function listWeights(config: ModelConfig, network: 'unet' | 'text_encoder' | 'vae'): WeightEntry[] {
  const builds: ((g: GraphBuilder) => unknown)[] =
    network === 'unet'
      ? [(g) => buildUNet(g, config.unet, { withResiduals: false })]
      : network === 'vae'
        ? [(g) => buildVaeEncoder(g, config.vae), (g) => buildVaeDecoder(g, config.vae)]
        : [(g) => (config.textEncoder.kind === 'bert' ? buildBertTextEncoder(g, config.textEncoder) : buildTextEncoder(g, config.textEncoder))];
  const seen = new Set<string>();
  return builds.flatMap((build) => {
    const g = new GraphBuilder(new SeededRandom(0), true);
    build(g);
    return g.weights.filter((w) => !seen.has(w.key) && seen.add(w.key));
  });
}
