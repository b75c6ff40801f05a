// Jobs with the same key can share one UNet batch: same weights (model + LoRA set, tiling), same latent shape, same
// schedule (img2img strength sets the number of steps run), and the same hires pass when there is one.
import { extractLoraTags } from './lora-tags';
import type { GenerationParams } from './types';

function hiresKey(p: GenerationParams): string {
  const h = p.hires;
  if (!h) return 'hr=-';
  return `hr=${h.hr_scale}/${h.hr_resize_x}x${h.hr_resize_y}/${h.hr_upscaler}/${h.hr_second_pass_steps}/${h.hr_sampler_name ?? ''}/${h.hr_scheduler ?? ''}/${h.denoising_strength}`;
}

export function batchKey(p: GenerationParams): string {
  if (p.kind === 'extras') return `extras|${p.extras?.upscaler_1}|${p.extras?.upscaler_2}`;
  const loras = [...p.loras]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((l) => `${l.name}:${l.weight}`)
    .join(',');
  const prompt_loras = extractLoraTags(p.prompt)
    .loras.map((l) => `${l.name}:${l.weight}`)
    .sort()
    .join(',');
  const control = p.controlnet.map((u) => `${u.module}/${u.model}`).join(',');
  const strength = p.kind === 'img2img' ? `ds=${p.denoising_strength}` : 'ds=-';
  return [
    p.kind,
    p.model,
    `${p.width}x${p.height}`,
    p.steps,
    p.sampler,
    p.scheduler,
    `lora=${loras};${prompt_loras}`,
    p.discretization ?? 'diffusers',
    `cn=${control}`,
    strength,
    `tiling=${p.tiling === true}`,
    hiresKey(p),
    `vae=${p.vae ?? ''}`,
    ...(p.sd_upscale ? [`sdu=${p.sd_upscale.overlap}/${p.sd_upscale.upscaler}/${p.sd_upscale.scale_factor}`] : []),
  ].join('|');
}
