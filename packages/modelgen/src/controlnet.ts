// ControlNet: a conditioning embedding of the control image added after conv_in, a copy of the UNet's down and
// mid blocks, and 1x1 "zero" convolutions whose outputs, times conditioning_scale, feed the UNet's skips.
import { onnx } from '@farm/engine/onnx-proto';
import { GraphBuilder, valueInfo } from './onnx-builder';
import { timestepEmbedding } from './layers';
import { unetEncoder } from './unet';
import type { UNetConfig } from './presets';

const F = onnx.TensorProto.DataType.FLOAT;

function conditioningEmbedding(g: GraphBuilder, cond: string, channels: number[], outCh: number): string {
  // gain 2 keeps the signal's scale through the SiLU stack, so the control map visibly steers the residuals
  let h = g.silu(g.conv(cond, 'controlnet_cond_embedding.conv_in', 3, channels[0], 3, { gain: 2 }), 'controlnet_cond_embedding.act_in');
  for (let i = 0; i < channels.length - 1; i++) {
    h = g.silu(g.conv(h, `controlnet_cond_embedding.blocks.${2 * i}`, channels[i], channels[i], 3, { gain: 2 }), `controlnet_cond_embedding.act_${2 * i}`);
    h = g.silu(
      g.conv(h, `controlnet_cond_embedding.blocks.${2 * i + 1}`, channels[i], channels[i + 1], 3, { stride: 2, gain: 2 }),
      `controlnet_cond_embedding.act_${2 * i + 1}`,
    );
  }
  return g.conv(h, 'controlnet_cond_embedding.conv_out', channels[channels.length - 1], outCh, 3, { gain: 2 });
}

export function buildControlNet(g: GraphBuilder, c: UNetConfig, conditioningChannels: number[]) {
  const inputs = [
    valueInfo('sample', F, ['batch', c.inChannels, 'height', 'width']),
    valueInfo('timestep', F, ['batch']),
    valueInfo('encoder_hidden_states', F, ['batch', 'sequence', c.crossAttentionDim]),
    valueInfo('controlnet_cond', F, ['batch', 3, 'image_height', 'image_width']),
    valueInfo('conditioning_scale', F, []),
  ];
  const temb = timestepEmbedding(g, 'timestep', c.blockOutChannels[0], c.blockOutChannels[0] * 4);
  const embedded = conditioningEmbedding(g, 'controlnet_cond', conditioningChannels, c.blockOutChannels[0]);
  const { skips, mid, channels } = unetEncoder(g, c, 'sample', temb, 'encoder_hidden_states', (convIn) =>
    g.op('Add', [convIn, embedded], {}, '/controlnet_cond_embedding/Add'),
  );
  const outputs: onnx.IValueInfoProto[] = [];
  skips.forEach((s, i) => {
    const zero = g.conv(s.value, `controlnet_down_blocks.${i}`, s.channels, s.channels, 1, { gain: 0.5 });
    const scaled = g.op('Mul', [zero, 'conditioning_scale'], {}, `/controlnet_down_blocks.${i}/Mul`);
    g.renameOutput(scaled, `down_block_res_sample_${i}`);
    outputs.push(valueInfo(`down_block_res_sample_${i}`, F, ['batch', s.channels, `height_${i}`, `width_${i}`]));
  });
  const midOut = g.op(
    'Mul',
    [g.conv(mid, 'controlnet_mid_block', channels, channels, 1, { gain: 0.5 }), 'conditioning_scale'],
    {},
    '/controlnet_mid_block/Mul',
  );
  g.renameOutput(midOut, 'mid_block_res_sample');
  outputs.push(valueInfo('mid_block_res_sample', F, ['batch', channels, 'height_mid', 'width_mid']));
  return { inputs, outputs };
}
