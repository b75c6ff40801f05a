// The Linear layers of a generated network, by module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`),
// i.e. the node `/<path with dots between segments as slashes>/MatMul`. LoRA fixtures and tests key on these.
import { GraphBuilder } from './onnx-builder';
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
