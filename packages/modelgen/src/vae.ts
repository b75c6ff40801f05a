// The SD1.5 AutoencoderKL split as diffusers' ONNX export splits it: vae_encoder (sample -> latent_sample, the mean
// of the diagonal Gaussian, unscaled) and vae_decoder (latent_sample -> sample). The 0.18215 factor is the pipeline's.
import { onnx } from '@farm/engine/onnx-proto';
import { GraphBuilder, valueInfo } from './onnx-builder';
import { resnet, vaeAttention, downsample, upsample } from './layers';
import type { VaeConfig } from './presets';

const F = onnx.TensorProto.DataType.FLOAT;

function midBlock(g: GraphBuilder, h: string, prefix: string, ch: number, groups: number): string {
  h = resnet(g, h, `${prefix}.mid_block.resnets.0`, ch, ch, groups);
  h = vaeAttention(g, h, `${prefix}.mid_block.attentions.0`, ch, groups);
  return resnet(g, h, `${prefix}.mid_block.resnets.1`, ch, ch, groups);
}

export function buildVaeEncoder(g: GraphBuilder, c: VaeConfig) {
  let h = g.conv('sample', 'encoder.conv_in', 3, c.blockOutChannels[0], 3);
  let ch = c.blockOutChannels[0];
  c.blockOutChannels.forEach((outCh, i) => {
    for (let j = 0; j < c.layersPerBlock; j++) {
      h = resnet(g, h, `encoder.down_blocks.${i}.resnets.${j}`, ch, outCh, c.normGroups);
      ch = outCh;
    }
    if (i < c.blockOutChannels.length - 1) h = downsample(g, h, `encoder.down_blocks.${i}.downsamplers.0`, ch, { padRightBottomOnly: true });
  });
  h = midBlock(g, h, 'encoder', ch, c.normGroups);
  h = g.conv(g.silu(g.groupNorm(h, 'encoder.conv_norm_out', ch, c.normGroups, 1e-6), 'encoder.conv_act'), 'encoder.conv_out', ch, 2 * c.latentChannels, 3);
  const moments = g.conv(h, 'quant_conv', 2 * c.latentChannels, 2 * c.latentChannels, 1);
  const mean = g.op('Slice', [moments, g.ints([0]), g.ints([c.latentChannels]), g.ints([1])], {}, '/Slice');
  g.renameOutput(mean, 'latent_sample');
  return {
    inputs: [valueInfo('sample', F, ['batch', 3, 'height', 'width'])],
    outputs: [valueInfo('latent_sample', F, ['batch', c.latentChannels, 'height_latent', 'width_latent'])],
  };
}

export function buildVaeDecoder(g: GraphBuilder, c: VaeConfig) {
  const reversed = [...c.blockOutChannels].reverse();
  let h = g.conv('latent_sample', 'post_quant_conv', c.latentChannels, c.latentChannels, 1);
  let ch = reversed[0];
  h = g.conv(h, 'decoder.conv_in', c.latentChannels, ch, 3);
  h = midBlock(g, h, 'decoder', ch, c.normGroups);
  reversed.forEach((outCh, i) => {
    for (let j = 0; j <= c.layersPerBlock; j++) {
      h = resnet(g, h, `decoder.up_blocks.${i}.resnets.${j}`, ch, outCh, c.normGroups);
      ch = outCh;
    }
    if (i < reversed.length - 1) h = upsample(g, h, `decoder.up_blocks.${i}.upsamplers.0`, ch);
  });
  h = g.silu(g.groupNorm(h, 'decoder.conv_norm_out', ch, c.normGroups, 1e-6), 'decoder.conv_act');
  g.renameOutput(g.conv(h, 'decoder.conv_out', ch, 3, 3), 'sample');
  return {
    inputs: [valueInfo('latent_sample', F, ['batch', c.latentChannels, 'height_latent', 'width_latent'])],
    outputs: [valueInfo('sample', F, ['batch', 3, 'height', 'width'])],
  };
}
