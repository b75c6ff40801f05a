// Sessions of a model with a LoRA set merged in: the networks the set touches are merged once per (model, set) and
// cached as `lora` sessions (first out under the byte budget, their temporary files removed with them); a network
// the set does not touch is the model's own base session, not a second copy of it.
import type { LoraRef } from '@farm/core';
import type { LoraSessionBuilder } from '../engine';
import { buildMergedNetworks, removeMergedFiles, type MergeReport } from './merged-model';
import type { LoraTarget } from './lora-keys';
import type { LoraInfo } from './registry';

const setKey = (loras: LoraRef[]) => loras.map((l) => `${l.name}:${l.weight}`).join(',');

export function loraSessionBuilder(available: () => LoraInfo[]): LoraSessionBuilder {
  /** (model, set) -> the networks the set touches, learnt at its first merge */
  const touched = new Map<string, Set<LoraTarget>>();
  return async ({ model, loras, cache }) => {
    const set = setKey(loras);
    const id = `${model.path}|${set}`;
    let built: MergeReport | null = null;
    const build = () => {
      built ??= buildMergedNetworks(model.path, loras, available());
      touched.set(id, new Set((['unet', 'text_encoder'] as const).filter((t) => built!.bytes[t] !== null)));
      return built;
    };
    const session = async (target: LoraTarget) => {
      const key = `${model.path}|${target}|lora=${set}`;
      if (!cache.has(key)) {
        if (!touched.has(id)) build();
        if (!touched.get(id)!.has(target)) return cache.network(model.path, target);
      }
      return cache.get(
        key,
        () => {
          const bytes = build().bytes[target];
          // rebuilt after an eviction: the set touches this network (it did the first time)
          if (bytes === null) throw new Error(`LoRA set ${set} no longer touches ${target}`);
          return bytes;
        },
        {
          kind: 'lora',
          group: model.path,
          dispose: () => {
            if (built) removeMergedFiles(built.bytes[target]);
          },
        },
      );
    };
    // the text encoder first: a merge that fails (a LoRA matching no layer) fails before the UNet is built
    const textEncoder = await session('text_encoder');
    return { textEncoder, unet: await session('unet') };
  };
}
