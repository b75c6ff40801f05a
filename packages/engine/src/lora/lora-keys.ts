// LoRA key styles -> the module each pair of matrices changes. Kohya joins module paths with underscores, which is
// ambiguous (to_q vs to.q), so its names are resolved against the module paths that exist in the graph.
import type { Tensor } from './safetensors';

export type LoraTarget = 'unet' | 'text_encoder';

export interface LoraLayer {
  target: LoraTarget;
  /** dotted module path as in the ONNX node names, e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q */
  module: string;
  down: Tensor;
  up: Tensor;
  alpha: number;
}

/** modules: target -> dotted module paths present in that network */
export function mapLoraKeys(tensors: Map<string, Tensor>, modules: Record<LoraTarget, string[]>): { layers: LoraLayer[]; unmatched: string[] } {
  const underscored: Record<LoraTarget, Map<string, string>> = {
    unet: new Map(modules.unet.map((m) => [m.replace(/\./g, '_'), m])),
    text_encoder: new Map(modules.text_encoder.map((m) => [m.replace(/\./g, '_'), m])),
  };
  const groups = new Map<string, { target: LoraTarget; module: string | undefined; down?: Tensor; up?: Tensor; alpha?: number }>();
  const unmatched: string[] = [];
  for (const [key, t] of tensors) {
    let m: RegExpExecArray | null;
    let target: LoraTarget;
    let module: string | undefined;
    let role: 'down' | 'up' | 'alpha';
    if ((m = /^lora_(unet|te1?|te)_(.+)\.(lora_down\.weight|lora_up\.weight|alpha)$/.exec(key))) {
      target = m[1] === 'unet' ? 'unet' : 'text_encoder';
      module = underscored[target].get(m[2]);
      role = m[3] === 'alpha' ? 'alpha' : m[3].startsWith('lora_down') ? 'down' : 'up';
    } else if ((m = /^(unet|text_encoder|base_model\.model)\.(.+)\.(lora_A|lora_B|lora\.down|lora\.up)(?:\.default)?\.weight$/.exec(key))) {
      target = m[1] === 'text_encoder' ? 'text_encoder' : 'unet';
      module = m[2].replace(/\.processor\.(to_q|to_k|to_v|to_out)_lora$/, (_, p) => `.${p === 'to_out' ? 'to_out.0' : p}`);
      role = m[3] === 'lora_A' || m[3] === 'lora.down' ? 'down' : 'up';
    } else if ((m = /^(unet|text_encoder)\.(.+)\.alpha$/.exec(key))) {
      target = m[1] as LoraTarget;
      module = m[2];
      role = 'alpha';
    } else {
      unmatched.push(key);
      continue;
    }
    if (!module || !modules[target].includes(module)) {
      unmatched.push(key);
      continue;
    }
    const id = `${target}:${module}`;
    const g = groups.get(id) ?? { target, module };
    if (role === 'alpha') g.alpha = t.data[0];
    else g[role] = t;
    groups.set(id, g);
  }
  const layers: LoraLayer[] = [];
  for (const g of groups.values()) {
    if (!g.down || !g.up || !g.module) continue;
    layers.push({ target: g.target, module: g.module, down: g.down, up: g.up, alpha: g.alpha ?? g.down.shape[0] });
  }
  return { layers, unmatched };
}
