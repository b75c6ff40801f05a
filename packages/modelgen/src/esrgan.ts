// A small ESRGAN-shaped upscaler (basicsr's RRDBNet layout: conv_first, residual-in-residual dense blocks, conv_body,
// two nearest x2 upsamplings with convs and LeakyReLU, conv_hr, conv_last), image [1, 3, h, w] in [0, 1] ->
// [1, 3, 4h, 4w], with seeded random weights. A global skip adds the nearest-upscaled input, so the output is an
// image of the right size whatever the weights.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { onnx } from '@farm/engine/onnx-proto';
import { GraphBuilder, valueInfo } from './onnx-builder';
import { SeededRandom } from './seeded-random';
import { writeOnnxModel } from './write-onnx';

const F = onnx.TensorProto.DataType.FLOAT;

export interface EsrganConfig {
  features: number;
  growth: number;
  blocks: number;
}

function lrelu(g: GraphBuilder, x: string, name: string): string {
  return g.op('LeakyRelu', [x], { alpha: 0.2 }, `/${name}/LeakyRelu`);
}

function denseBlock(g: GraphBuilder, x: string, path: string, nf: number, gc: number): string {
  const feats = [x];
  for (let i = 1; i <= 4; i++) {
    const input = feats.length === 1 ? x : g.op('Concat', [...feats], { axis: 1 }, `/${path}/Concat_${i}`);
    feats.push(lrelu(g, g.conv(input, `${path}.conv${i}`, nf + (i - 1) * gc, gc, 3, { gain: 0.5 }), `${path}/lrelu${i}`));
  }
  const out = g.conv(g.op('Concat', [...feats], { axis: 1 }, `/${path}/Concat_5`), `${path}.conv5`, nf + 4 * gc, nf, 3, { gain: 0.2 });
  return g.op('Add', [x, g.op('Mul', [out, g.scalar(0.2)], {}, `/${path}/Mul`)], {}, `/${path}/Add`);
}

function upsample2x(g: GraphBuilder, x: string, name: string, scales: string): string {
  return g.op('Resize', [x, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, `/${name}/Resize`);
}

export function buildEsrgan(g: GraphBuilder, c: EsrganConfig) {
  const scales = g.param('upsample.scales', [4], Float32Array.of(1, 1, 2, 2));
  const first = g.conv('input', 'conv_first', 3, c.features, 3);
  let h = first;
  for (let b = 0; b < c.blocks; b++) {
    let r = h;
    for (let k = 1; k <= 3; k++) r = denseBlock(g, r, `body.${b}.rdb${k}`, c.features, c.growth);
    h = g.op('Add', [h, g.op('Mul', [r, g.scalar(0.2)], {}, `/body.${b}/Mul`)], {}, `/body.${b}/Add`);
  }
  h = g.op('Add', [first, g.conv(h, 'conv_body', c.features, c.features, 3)], {}, '/body/Add');
  h = lrelu(g, g.conv(upsample2x(g, h, 'up1', scales), 'conv_up1', c.features, c.features, 3), 'conv_up1');
  h = lrelu(g, g.conv(upsample2x(g, h, 'up2', scales), 'conv_up2', c.features, c.features, 3), 'conv_up2');
  const residual = g.conv(lrelu(g, g.conv(h, 'conv_hr', c.features, c.features, 3), 'conv_hr'), 'conv_last', c.features, 3, 3, { gain: 0.1 });
  const skip = upsample2x(g, upsample2x(g, 'input', 'skip1', scales), 'skip2', scales);
  g.renameOutput(g.op('Add', [skip, residual], {}, '/skip/Add'), 'output');
  return {
    inputs: [valueInfo('input', F, [1, 3, 'height', 'width'])],
    outputs: [valueInfo('output', F, [1, 3, 'height_out', 'width_out'])],
  };
}

/** Writes <path> (e.g. UPSCALERS_DIR/4x-tiny-esrgan.onnx). */
export function generateEsrgan(path: string, opts: { seed?: number; config?: EsrganConfig } = {}): void {
  const builder = new GraphBuilder(new SeededRandom(opts.seed ?? 1));
  const built = buildEsrgan(builder, opts.config ?? { features: 8, growth: 4, blocks: 1 });
  mkdirSync(dirname(path), { recursive: true });
  writeOnnxModel(path, 'esrgan', { builder, ...built }, { externalData: false });
}
