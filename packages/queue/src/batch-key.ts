// Jobs with the same key can share one UNet batch: same weights (model + LoRA set), same latent shape, same schedule.
import type { GenerationParams } from '@farm/core';

export function batchKey(p: GenerationParams): string {
  const loras = [...p.loras].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((l) => `${l.name}:${l.weight}`).join(',');
  const prompt_loras = [...p.prompt.matchAll(/<lora:([^:>]+)(?::([^:>]*))?/gi)].map((m) => `${m[1]}:${m[2] ?? 1}`).sort().join(',');
  const control = p.controlnet.map((u) => `${u.module}/${u.model}`).join(',');
  return [p.kind, p.model, `${p.width}x${p.height}`, p.steps, p.sampler, p.scheduler, `lora=${loras};${prompt_loras}`, `cn=${control}`].join('|');
}
