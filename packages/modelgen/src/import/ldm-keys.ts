// Original Stable Diffusion (LDM) checkpoint names <-> diffusers names, by rule. Module prefixes are paired from the
// network's structure (levels, layers per level, which levels attend); inside a module, parameter names are renamed
// by the module's kind (LDM ResBlock in_layers.0 = diffusers norm1, ...). Both directions use the same table.
import type { UNetConfig, VaeConfig } from '../presets';

type Kind = 'plain' | 'resnet' | 'vae-resnet' | 'vae-attention';
interface Pair {
  diffusers: string;
  ldm: string;
  kind: Kind;
}

const RENAMES: Record<Kind, [string, string][]> = {
  plain: [],
  resnet: [
    ['norm1', 'in_layers.0'],
    ['conv1', 'in_layers.2'],
    ['time_emb_proj', 'emb_layers.1'],
    ['norm2', 'out_layers.0'],
    ['conv2', 'out_layers.3'],
    ['conv_shortcut', 'skip_connection'],
  ],
  'vae-resnet': [['conv_shortcut', 'nin_shortcut']],
  'vae-attention': [
    ['group_norm', 'norm'],
    ['to_q', 'q'],
    ['to_k', 'k'],
    ['to_v', 'v'],
    ['to_out.0', 'proj_out'],
  ],
};

export const LDM_PREFIX = { unet: 'model.diffusion_model.', vae: 'first_stage_model.', text_encoder: 'cond_stage_model.transformer.' } as const;

export interface UNetStructure {
  levels: number;
  layersPerBlock: number;
  attention: boolean[];
}
export interface VaeStructure {
  levels: number;
  layersPerBlock: number;
}

export function unetPairs(s: UNetStructure): Pair[] {
  const pairs: Pair[] = [
    { diffusers: 'time_embedding.linear_1', ldm: 'time_embed.0', kind: 'plain' },
    { diffusers: 'time_embedding.linear_2', ldm: 'time_embed.2', kind: 'plain' },
    { diffusers: 'conv_in', ldm: 'input_blocks.0.0', kind: 'plain' },
    { diffusers: 'conv_norm_out', ldm: 'out.0', kind: 'plain' },
    { diffusers: 'conv_out', ldm: 'out.2', kind: 'plain' },
    { diffusers: 'mid_block.resnets.0', ldm: 'middle_block.0', kind: 'resnet' },
    { diffusers: 'mid_block.attentions.0', ldm: 'middle_block.1', kind: 'plain' },
    { diffusers: 'mid_block.resnets.1', ldm: 'middle_block.2', kind: 'resnet' },
  ];
  let input = 1;
  for (let b = 0; b < s.levels; b++) {
    for (let l = 0; l < s.layersPerBlock; l++, input++) {
      pairs.push({ diffusers: `down_blocks.${b}.resnets.${l}`, ldm: `input_blocks.${input}.0`, kind: 'resnet' });
      if (s.attention[b]) pairs.push({ diffusers: `down_blocks.${b}.attentions.${l}`, ldm: `input_blocks.${input}.1`, kind: 'plain' });
    }
    if (b < s.levels - 1) pairs.push({ diffusers: `down_blocks.${b}.downsamplers.0.conv`, ldm: `input_blocks.${input++}.0.op`, kind: 'plain' });
  }
  const upAttention = [...s.attention].reverse();
  let output = 0;
  for (let b = 0; b < s.levels; b++) {
    for (let l = 0; l <= s.layersPerBlock; l++, output++) {
      pairs.push({ diffusers: `up_blocks.${b}.resnets.${l}`, ldm: `output_blocks.${output}.0`, kind: 'resnet' });
      if (upAttention[b]) pairs.push({ diffusers: `up_blocks.${b}.attentions.${l}`, ldm: `output_blocks.${output}.1`, kind: 'plain' });
      if (l === s.layersPerBlock && b < s.levels - 1) {
        pairs.push({ diffusers: `up_blocks.${b}.upsamplers.0.conv`, ldm: `output_blocks.${output}.${upAttention[b] ? 2 : 1}.conv`, kind: 'plain' });
      }
    }
  }
  return pairs;
}

export function vaePairs(s: VaeStructure): Pair[] {
  const pairs: Pair[] = [];
  for (const part of ['encoder', 'decoder']) {
    pairs.push(
      { diffusers: `${part}.mid_block.resnets.0`, ldm: `${part}.mid.block_1`, kind: 'vae-resnet' },
      { diffusers: `${part}.mid_block.attentions.0`, ldm: `${part}.mid.attn_1`, kind: 'vae-attention' },
      { diffusers: `${part}.mid_block.resnets.1`, ldm: `${part}.mid.block_2`, kind: 'vae-resnet' },
      { diffusers: `${part}.conv_norm_out`, ldm: `${part}.norm_out`, kind: 'plain' },
    );
  }
  for (let b = 0; b < s.levels; b++) {
    for (let l = 0; l < s.layersPerBlock; l++)
      pairs.push({ diffusers: `encoder.down_blocks.${b}.resnets.${l}`, ldm: `encoder.down.${b}.block.${l}`, kind: 'vae-resnet' });
    if (b < s.levels - 1) pairs.push({ diffusers: `encoder.down_blocks.${b}.downsamplers.0.conv`, ldm: `encoder.down.${b}.downsample.conv`, kind: 'plain' });
    // the decoder's up blocks are numbered from the bottom in LDM, from the top in diffusers
    const up = s.levels - 1 - b;
    for (let l = 0; l <= s.layersPerBlock; l++)
      pairs.push({ diffusers: `decoder.up_blocks.${b}.resnets.${l}`, ldm: `decoder.up.${up}.block.${l}`, kind: 'vae-resnet' });
    if (b < s.levels - 1) pairs.push({ diffusers: `decoder.up_blocks.${b}.upsamplers.0.conv`, ldm: `decoder.up.${up}.upsample.conv`, kind: 'plain' });
  }
  return pairs;
}

export class KeyTable {
  private readonly byDiffusers: Pair[];
  private readonly byLdm: Pair[];

  constructor(pairs: Pair[]) {
    this.byDiffusers = [...pairs].sort((a, b) => b.diffusers.length - a.diffusers.length);
    this.byLdm = [...pairs].sort((a, b) => b.ldm.length - a.ldm.length);
  }

  /** The LDM name of a diffusers parameter (unchanged when no module rule applies: same name in both). */
  toLdm(key: string): string {
    return this.map(key, this.byDiffusers, 'diffusers', 'ldm', 0, 1);
  }

  toDiffusers(key: string): string {
    return this.map(key, this.byLdm, 'ldm', 'diffusers', 1, 0);
  }

  private map(key: string, pairs: Pair[], from: 'ldm' | 'diffusers', to: 'ldm' | 'diffusers', a: 0 | 1, b: 0 | 1): string {
    const pair = pairs.find((p) => key.startsWith(`${p[from]}.`));
    if (!pair) return key;
    let rest = key.slice(pair[from].length + 1);
    for (const names of RENAMES[pair.kind]) {
      if (rest.startsWith(`${names[a]}.`)) {
        rest = names[b] + rest.slice(names[a].length);
        break;
      }
    }
    return `${pair[to]}.${rest}`;
  }
}

/** VAE attention projections are 1x1 convolutions in LDM checkpoints, Linear layers in diffusers. */
export function isVaeAttentionProjection(diffusersKey: string): boolean {
  return /mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(diffusersKey);
}

export const unetStructure = (c: UNetConfig): UNetStructure => ({
  levels: c.blockOutChannels.length,
  layersPerBlock: c.layersPerBlock,
  attention: c.attention,
});
export const vaeStructure = (c: VaeConfig): VaeStructure => ({ levels: c.blockOutChannels.length, layersPerBlock: c.layersPerBlock });
