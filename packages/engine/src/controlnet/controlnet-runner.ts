// Runs the ControlNet beside the UNet at every model call: residuals for each unit (its control map, scaled by its
// weight, zero outside guidance_start..guidance_end) are summed and fed to the UNet variant that accepts them.
import * as ort from 'onnxruntime-node';
import { ValidationError, type GenerationParams } from '@farm/core';
import type { ExtraFeeds } from '../pipeline/denoise';
import type { ModelInfo } from '../models/model-registry';
import type { SessionCache } from '../onnx/session-cache';
import { controlMap } from './control-image';

/** Builds the UNet variant and its extra feeds (ControlNet residuals) for the ControlNet units of a batch. */
export type ControlNetPlanner = (ctx: { model: ModelInfo; items: { id: string; params: GenerationParams }[]; sessions: SessionCache }) => Promise<{ unet: ort.InferenceSession; extraFeeds: ExtraFeeds }>;

const residualInput = (output: string) => output === 'mid_block_res_sample'
  ? 'mid_block_additional_residual'
  : output.replace('down_block_res_sample_', 'down_block_additional_residual_');

export function createControlNetPlanner(opts: { maxInputPixels: number }): ControlNetPlanner {
  return async ({ model, items, sessions }) => {
    if (!model.hasControlNet) throw new ValidationError(`model "${model.name}" has no ControlNet (controlnet/model.onnx and unet_controlnet/model.onnx)`, 'controlnet');
    const { width, height } = items[0].params;
    const controlnet = await sessions.network(model.path, 'controlnet');
    const unet = await sessions.network(model.path, 'unet_controlnet');
    const units = new Map(await Promise.all(items.map(async (it) => [it.id, await Promise.all(it.params.controlnet.map(async (u) => ({ unit: u, map: await controlMap(u, width, height, opts.maxInputPixels) })))] as const)));
    const plane = 3 * width * height;
    const one = new ort.Tensor('float32', Float32Array.of(1), []);
    const extraFeeds: ExtraFeeds = async ({ rows, order, sample, timestep, states, callProgress }) => {
      const unitCount = units.get(rows[0].itemId)!.length;
      let sums: Record<string, Float32Array> | null = null;
      let dims: Record<string, readonly number[]> = {};
      for (let u = 0; u < unitCount; u++) {
        const cond = new Float32Array(order.length * plane);
        const scales = order.map((r, b) => {
          const { unit, map } = units.get(r.itemId)![u];
          cond.set(map.tensor, b * plane);
          return callProgress >= unit.guidance_start && callProgress <= unit.guidance_end ? unit.weight : 0;
        });
        if (scales.every((s) => s === 0) && sums !== null) continue;
        const out = await controlnet.run({ sample, timestep, encoder_hidden_states: states, controlnet_cond: new ort.Tensor('float32', cond, [order.length, 3, height, width]), conditioning_scale: one });
        sums ??= Object.fromEntries(controlnet.outputNames.map((n) => [n, new Float32Array((out[n].data as Float32Array).length)]));
        dims = Object.fromEntries(controlnet.outputNames.map((n) => [n, out[n].dims]));
        for (const name of controlnet.outputNames) {
          const data = out[name].data as Float32Array;
          const per = data.length / order.length;
          const sum = sums[name];
          scales.forEach((s, b) => { if (s !== 0) for (let k = b * per; k < (b + 1) * per; k++) sum[k] += s * data[k]; });
        }
      }
      return Object.fromEntries(Object.entries(sums!).map(([name, data]) => [residualInput(name), new ort.Tensor('float32', data, dims[name] as number[])]));
    };
    return { unet, extraFeeds };
  };
}
