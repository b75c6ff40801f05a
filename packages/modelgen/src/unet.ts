// The SD1.5 UNet (UNet2DConditionModel) and, from the same weights, its ControlNet-ready variant that adds
// down_block_additional_residual_i to each skip and mid_block_additional_residual to the mid block output.
import { GraphBuilder, valueInfo } from './onnx-builder';
import { resnet, transformer2d, downsample, upsample, timestepEmbedding } from './layers';
import type { UNetConfig } from './presets';
import { onnx } from '@farm/engine/onnx-proto';

const F = onnx.TensorProto.DataType.FLOAT;

export interface UNetGraph {
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  residualChannels: number[];
}

/** Down path shared by the UNet and the ControlNet: returns the skip tensors with their channel counts, and the mid output. */
export function unetEncoder(g: GraphBuilder, c: UNetConfig, sample: string, temb: string, context: string, conditioning?: (convIn: string) => string) {
  const tembInfo = { value: temb, dim: c.blockOutChannels[0] * 4 };
  let h = g.conv(sample, 'conv_in', c.inChannels, c.blockOutChannels[0], 3);
  if (conditioning) h = conditioning(h);
  const skips: { value: string; channels: number }[] = [{ value: h, channels: c.blockOutChannels[0] }];
  let ch = c.blockOutChannels[0];
  c.blockOutChannels.forEach((outCh, i) => {
    for (let j = 0; j < c.layersPerBlock; j++) {
      h = resnet(g, h, `down_blocks.${i}.resnets.${j}`, ch, outCh, c.normGroups, tembInfo);
      ch = outCh;
      if (c.attention[i]) h = transformer2d(g, h, `down_blocks.${i}.attentions.${j}`, ch, c.heads, c.normGroups, context, c.crossAttentionDim);
      skips.push({ value: h, channels: ch });
    }
    if (i < c.blockOutChannels.length - 1) {
      h = downsample(g, h, `down_blocks.${i}.downsamplers.0`, ch);
      skips.push({ value: h, channels: ch });
    }
  });
  h = resnet(g, h, 'mid_block.resnets.0', ch, ch, c.normGroups, tembInfo);
  h = transformer2d(g, h, 'mid_block.attentions.0', ch, c.heads, c.normGroups, context, c.crossAttentionDim);
  h = resnet(g, h, 'mid_block.resnets.1', ch, ch, c.normGroups, tembInfo);
  return { skips, mid: h, channels: ch };
}

export function buildUNet(g: GraphBuilder, c: UNetConfig, opts: { withResiduals: boolean }): UNetGraph {
  const inputs = [
    valueInfo('sample', F, ['batch', c.inChannels, 'height', 'width']),
    valueInfo('timestep', F, ['batch']),
    valueInfo('encoder_hidden_states', F, ['batch', 'sequence', c.crossAttentionDim]),
  ];
  const temb = timestepEmbedding(g, 'timestep', c.blockOutChannels[0], c.blockOutChannels[0] * 4);
  const { skips, mid, channels } = unetEncoder(g, c, 'sample', temb, 'encoder_hidden_states');
  const tembInfo = { value: temb, dim: c.blockOutChannels[0] * 4 };
  const residualChannels = skips.map((s) => s.channels);
  let h = mid;
  let ch = channels;
  if (opts.withResiduals) {
    skips.forEach((s, i) => {
      inputs.push(valueInfo(`down_block_additional_residual_${i}`, F, ['batch', s.channels, `height_${i}`, `width_${i}`]));
      s.value = g.op('Add', [s.value, `down_block_additional_residual_${i}`], {}, `/controlnet_residual_${i}/Add`);
    });
    inputs.push(valueInfo('mid_block_additional_residual', F, ['batch', ch, 'height_mid', 'width_mid']));
    h = g.op('Add', [h, 'mid_block_additional_residual'], {}, '/controlnet_mid_residual/Add');
  }
  const reversed = [...c.blockOutChannels].reverse();
  const reversedAttention = [...c.attention].reverse();
  reversed.forEach((outCh, i) => {
    for (let j = 0; j <= c.layersPerBlock; j++) {
      const skip = skips.pop()!;
      h = g.op('Concat', [h, skip.value], { axis: 1 }, `/up_blocks.${i}/Concat_${j}`);
      h = resnet(g, h, `up_blocks.${i}.resnets.${j}`, ch + skip.channels, outCh, c.normGroups, tembInfo);
      ch = outCh;
      if (reversedAttention[i])
        h = transformer2d(g, h, `up_blocks.${i}.attentions.${j}`, ch, c.heads, c.normGroups, 'encoder_hidden_states', c.crossAttentionDim);
    }
    if (i < reversed.length - 1) h = upsample(g, h, `up_blocks.${i}.upsamplers.0`, ch, skips[skips.length - 1].value);
  });
  h = g.silu(g.groupNorm(h, 'conv_norm_out', ch, c.normGroups), 'conv_act');
  const out = g.conv(h, 'conv_out', ch, c.outChannels, 3);
  g.renameOutput(out, 'out_sample');
  return { inputs, outputs: [valueInfo('out_sample', F, ['batch', c.outChannels, 'height', 'width'])], residualChannels };
}
