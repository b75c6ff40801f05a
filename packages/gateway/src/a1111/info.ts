// The `info` string of txt2img/img2img answers: A1111's Processed.js() with the same keys and values.
import { A1111_VERSION, type A1111Parsed } from '@farm/core';

export interface InfoInputs {
  parsed: A1111Parsed;
  seeds: number[];
  infotexts: string[];
  subseed: number;
  modelHash: string | null;
  vaeHash: string | null;
  jobTimestamp: string;
  indexOfFirstImage: number;
  clipSkip: number;
  faceRestorationModel: string | null;
}

/** A1111's job_timestamp: local date and time as YYYYmmddHHMMSS. */
export function jobTimestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export function a1111Info(x: InfoInputs): Record<string, unknown> {
  const { params: p } = x.parsed;
  const count = p.batch_size * p.n_iter;
  const allPrompts = Array.from({ length: count }, () => x.parsed.prompt);
  const allNegative = Array.from({ length: count }, () => x.parsed.negative_prompt);
  const subseedStrength = Number(x.parsed.request.subseed_strength ?? 0);
  const extra: Record<string, unknown> = {};
  if (p.kind === 'img2img') extra['Denoising strength'] = p.denoising_strength;
  p.controlnet.forEach((u, i) => {
    extra[`ControlNet ${i}`] =
      `Module: ${u.module}, Model: ${u.model}, Weight: ${u.weight}, Guidance Start: ${u.guidance_start}, Guidance End: ${u.guidance_end}`;
  });
  return {
    prompt: allPrompts[0] ?? x.parsed.prompt,
    all_prompts: allPrompts,
    negative_prompt: allNegative[0] ?? x.parsed.negative_prompt,
    all_negative_prompts: allNegative,
    seed: x.seeds[0] ?? p.seed,
    all_seeds: x.seeds.length ? x.seeds : [p.seed],
    subseed: x.subseed,
    all_subseeds: Array.from({ length: Math.max(1, count) }, (_, i) => x.subseed + i),
    subseed_strength: subseedStrength,
    width: p.width,
    height: p.height,
    sampler_name: p.sampler,
    cfg_scale: p.cfg_scale,
    steps: p.steps,
    batch_size: p.batch_size,
    restore_faces: false,
    face_restoration_model: x.faceRestorationModel,
    sd_model_name: p.model,
    sd_model_hash: x.modelHash,
    sd_vae_name: p.vae ?? null,
    sd_vae_hash: x.vaeHash,
    seed_resize_from_w: x.parsed.request.seed_resize_from_w ?? -1,
    seed_resize_from_h: x.parsed.request.seed_resize_from_h ?? -1,
    denoising_strength: x.parsed.infoDenoising,
    extra_generation_params: extra,
    index_of_first_image: x.indexOfFirstImage,
    infotexts: x.infotexts,
    styles: x.parsed.styles,
    job_timestamp: x.jobTimestamp,
    clip_skip: x.clipSkip,
    is_using_inpainting_conditioning: false,
    version: A1111_VERSION,
    // not in A1111's js(): what A1111 shows as comments (extra networks that were not found)
    ...(x.parsed.comments.length ? { comments: x.parsed.comments.join('\n') } : {}),
  };
}
