// The plain tiny-model txt2img request most engine and core tests start from; a test names only what it changes.
import type { GenerationParams } from '@farm/core';

export function txt2imgParams(overrides: Partial<GenerationParams> = {}): GenerationParams {
  return {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a lighthouse',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: 3,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 3,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
    ...overrides,
  };
}
