// Runs the ControlNet beside the UNet at every model call: residuals for each unit (its control map, scaled by its
// weight, zero outside guidance_start..guidance_end) are summed and fed to the UNet variant that accepts them.
// A model whose controlnet/ holds the split graphs (cond_embedding.onnx + model.embedded.onnx, see modelgen's
// controlnet-split.ts) embeds each unit's control maps once per job, and every step runs only the rest; a folder
// without them runs the whole graph at every step.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ValidationError, type GenerationParams } from '@farm/core';
import type { ExtraFeeds } from '../pipeline/denoise';
import type { ModelInfo } from '../models/model-registry';
import type { SessionCache } from '../onnx/session-cache';
import { controlMap } from './control-image';

/** Builds the UNet variant and its extra feeds (ControlNet residuals) for the ControlNet units of a batch. */
export type ControlNetPlanner = (ctx: {
  model: ModelInfo;
  items: { id: string; params: GenerationParams }[];
  sessions: SessionCache;
}) => Promise<{ unet: ort.InferenceSession; extraFeeds: ExtraFeeds }>;

const residualInput = (output: string) =>
  output === 'mid_block_res_sample' ? 'mid_block_additional_residual' : output.replace('down_block_res_sample_', 'down_block_additional_residual_');

export function createControlNetPlanner(opts: { maxInputPixels: number }): ControlNetPlanner {
  return async ({ model, items, sessions }) => {
    if (!model.hasControlNet)
      throw new ValidationError(`model "${model.name}" has no ControlNet (controlnet/model.onnx and unet_controlnet/model.onnx)`, 'controlnet');
    const { width, height } = items[0].params;
    const split = existsSync(join(model.path, 'controlnet', 'cond_embedding.onnx')) && existsSync(join(model.path, 'controlnet', 'model.embedded.onnx'));
    const controlnet = await sessions.network(model.path, 'controlnet', split ? 'model.embedded.onnx' : 'model.onnx');
    const unet = await sessions.network(model.path, 'unet_controlnet');
    const units = new Map(
      await Promise.all(
        items.map(
          async (it) =>
            [
              it.id,
              await Promise.all(it.params.controlnet.map(async (u) => ({ unit: u, map: await controlMap(u, width, height, opts.maxInputPixels) }))),
            ] as const,
        ),
      ),
    );
    const embedded = split
      ? await embedUnits(
          await sessions.network(model.path, 'controlnet', 'cond_embedding.onnx'),
          items.map((it) => it.id),
          units,
          width,
          height,
        )
      : null;
    const plane = 3 * width * height;
    const one = new ort.Tensor('float32', Float32Array.of(1), []);
    const controlImages = (u: number, ids: string[]) => {
      const cond = new Float32Array(ids.length * plane);
      ids.forEach((id, b) => cond.set(units.get(id)![u].map.tensor, b * plane));
      return new ort.Tensor('float32', cond, [ids.length, 3, height, width]);
    };
    const extraFeeds: ExtraFeeds = async ({ rows, order, sample, timestep, states, callProgress }) => {
      const unitCount = units.get(rows[0].itemId)!.length;
      let sums: Record<string, Float32Array> | null = null;
      let dims: Record<string, readonly number[]> = {};
      for (let u = 0; u < unitCount; u++) {
        const scales = order.map((r) => {
          const { unit } = units.get(r.itemId)![u];
          return callProgress >= unit.guidance_start && callProgress <= unit.guidance_end ? unit.weight : 0;
        });
        if (scales.every((s) => s === 0) && sums !== null) continue;
        const control: Record<string, ort.Tensor> = embedded
          ? {
              controlnet_cond_embedding: embedded.batch(
                u,
                order.map((r) => r.itemId),
              ),
            }
          : {
              controlnet_cond: controlImages(
                u,
                order.map((r) => r.itemId),
              ),
            };
        const out = await controlnet.run({ sample, timestep, encoder_hidden_states: states, ...control, conditioning_scale: one });
        sums ??= Object.fromEntries(controlnet.outputNames.map((n) => [n, new Float32Array((out[n].data as Float32Array).length)]));
        dims = Object.fromEntries(controlnet.outputNames.map((n) => [n, out[n].dims]));
        for (const name of controlnet.outputNames) {
          const data = out[name].data as Float32Array;
          const per = data.length / order.length;
          const sum = sums[name];
          scales.forEach((s, b) => {
            if (s !== 0) for (let k = b * per; k < (b + 1) * per; k++) sum[k] += s * data[k];
          });
        }
      }
      return Object.fromEntries(Object.entries(sums!).map(([name, data]) => [residualInput(name), new ort.Tensor('float32', data, dims[name] as number[])]));
    };
    return { unet, extraFeeds };
  };
}

type Units = Map<string, readonly { map: { tensor: Float32Array } }[]>;

/**
 * Each unit's control maps through the conditioning embedding, one run per unit for all items of the batch; `batch`
 * then lays out a step's entries from them (the same layout for every step of a group is built once).
 */
async function embedUnits(session: ort.InferenceSession, ids: string[], units: Units, width: number, height: number) {
  const plane = 3 * width * height;
  const perUnit: { data: Float32Array; dims: readonly number[] }[] = [];
  const unitCount = units.get(ids[0])!.length;
  for (let u = 0; u < unitCount; u++) {
    const cond = new Float32Array(ids.length * plane);
    ids.forEach((id, b) => cond.set(units.get(id)![u].map.tensor, b * plane));
    const out = await session.run({ controlnet_cond: new ort.Tensor('float32', cond, [ids.length, 3, height, width]) });
    const t = out[session.outputNames[0]];
    perUnit.push({ data: t.data as Float32Array, dims: t.dims });
  }
  const layouts = new Map<string, ort.Tensor>();
  return {
    batch(u: number, order: string[]): ort.Tensor {
      const key = `${u}|${order.join('\u0000')}`;
      const hit = layouts.get(key);
      if (hit) return hit;
      const { data, dims } = perUnit[u];
      const per = data.length / ids.length;
      const out = new Float32Array(order.length * per);
      order.forEach((id, b) => {
        const i = ids.indexOf(id);
        out.set(data.subarray(i * per, (i + 1) * per), b * per);
      });
      const tensor = new ort.Tensor('float32', out, [order.length, ...dims.slice(1)]);
      layouts.set(key, tensor);
      return tensor;
    },
  };
}
