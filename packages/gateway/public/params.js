// Form values from elsewhere: a job's stored input (history "reuse parameters") and the parameters /sdapi/v1/png-info
// reads out of an infotext (PNG Info "send to txt2img"). Pure functions; keys are the form's element ids.

const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== ''));

export function fromJobInput(input) {
  const h = input.hires;
  return defined({
    prompt: input.prompt,
    negative_prompt: input.negative_prompt,
    sampler: input.sampler,
    scheduler: input.scheduler,
    steps: input.steps,
    cfg_scale: input.cfg_scale,
    seed: input.seed,
    width: input.width,
    height: input.height,
    batch_size: input.batch_size,
    n_iter: input.n_iter,
    tiling: Boolean(input.tiling),
    subseed: input.subseed_strength > 0 ? input.subseed : -1,
    subseed_strength: input.subseed_strength ?? 0,
    enable_hr: Boolean(h),
    ...(h
      ? {
          hr_scale: h.hr_scale,
          hr_upscaler: h.hr_upscaler,
          hr_second_pass_steps: h.hr_second_pass_steps,
          hr_resize_x: h.hr_resize_x,
          hr_resize_y: h.hr_resize_y,
          hr_denoise: h.denoising_strength,
        }
      : {}),
    ...(input.kind === 'img2img' ? { denoising_strength: input.denoising_strength } : {}),
  });
}

/** A1111's parse_generation_parameters keys (Size-1/Size-2 are width/height) to form values. */
export function fromInfotextParameters(p) {
  const hires = p['Hires upscale'] !== undefined || p['Hires upscaler'] !== undefined || Number(p['Hires resize-1']) > 0;
  return defined({
    prompt: p.Prompt,
    negative_prompt: p['Negative prompt'],
    steps: p.Steps,
    sampler: p.Sampler,
    scheduler: p['Schedule type'],
    cfg_scale: p['CFG scale'],
    seed: p.Seed,
    width: p['Size-1'],
    height: p['Size-2'],
    tiling: p.Tiling === 'True' || p.Tiling === true,
    subseed: p['Variation seed'] ?? -1,
    subseed_strength: p['Variation seed strength'] ?? 0,
    enable_hr: hires,
    ...(hires
      ? {
          hr_scale: p['Hires upscale'],
          hr_upscaler: p['Hires upscaler'],
          hr_second_pass_steps: p['Hires steps'],
          hr_resize_x: p['Hires resize-1'],
          hr_resize_y: p['Hires resize-2'],
          hr_denoise: p['Denoising strength'],
        }
      : {}),
  });
}

/** Applies a style's prompt to a prompt as A1111 does: "{prompt}" in the style is replaced, otherwise it is appended. */
export function applyStyleText(style, text) {
  if (!style) return text;
  if (style.includes('{prompt}')) return style.replace('{prompt}', text);
  return text.trim() ? `${text.trim().replace(/,\s*$/, '')}, ${style}` : style;
}
