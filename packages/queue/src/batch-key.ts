// Jobs with the same key can share one UNet batch: same weights (model + LoRA set), same latent shape, same schedule.
import { extractLoraTags, type GenerationParams } from '@farm/core';

export function batchKey(p: GenerationParams): string {
  const loras = [...p.loras].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((l) => `${l.name}:${l.weight}`).join(',');
  const prompt_loras = extractLoraTags(p.prompt).loras.map((l) => `${l.name}:${l.weight}`).sort().join(',');
  const control = p.controlnet.map((u) => `${u.module}/${u.model}`).join(',');
  return [p.kind, p.model, `${p.width}x${p.height}`, p.steps, p.sampler, p.scheduler, p.discretization ?? 'diffusers', `lora=${loras};${prompt_loras}`, `cn=${control}`].join('|');
}
