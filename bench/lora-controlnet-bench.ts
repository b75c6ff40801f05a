// LoRA and ControlNet costs: UNet step time with 0, 1 and 8 LoRAs merged (should be equal: merging happens once),
// the time to build a merged session, and ControlNet's extra time per step.
import { mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { GenerationParams, LoraRef } from '@farm/core';
import { Engine } from '@farm/engine';
import { writeLoraFixtures } from '@farm/modelgen';
import { ensureTinyModel } from '@farm/testkit';
import { compare, timeIt } from './lib/stats';
import { fmt, writeResult, type Row } from './lib/report';

export async function runLoraControlNetBench(opts: { width: number; steps: number; runs: number }) {
  const { modelsDir } = await ensureTinyModel();
  const loraDir = mkdtempSync(join(tmpdir(), 'bench-loras-'));
  const names: string[] = [];
  for (let i = 0; i < 4; i++) {
    const files = writeLoraFixtures(join(modelsDir, 'tiny'), join(loraDir, String(i)), { seed: 100 + i });
    for (const f of Object.values(files)) {
      const name = `l${i}-${f.includes('kohya') ? 'k' : 'd'}`;
      renameSync(f, join(loraDir, `${name}.safetensors`));
      names.push(name);
    }
  }
  const engine = new Engine({ modelsDir, loraDir, maxPixels: 4096 * 4096, maxSteps: 1000 });
  const base: GenerationParams = {
    kind: 'txt2img',
    model: 'tiny',
    prompt: 'a garden',
    negative_prompt: '',
    sampler: 'Euler',
    scheduler: 'Automatic',
    steps: opts.steps,
    cfg_scale: 7,
    width: opts.width,
    height: opts.width,
    seed: 1,
    batch_size: 1,
    n_iter: 1,
    denoising_strength: 0.75,
    resize_mode: 0,
    loras: [],
    controlnet: [],
  };
  const gen = (p: Partial<GenerationParams>) => engine.generate([{ id: 'b', params: { ...base, ...p } }]);
  const perStep = async (p: Partial<GenerationParams>) => {
    const r = await compare(
      () => gen({ ...p, steps: 2 * opts.steps }),
      () => gen({ ...p, steps: opts.steps }),
      { runs: opts.runs, warmup: 1 },
    );
    return (r.a.median_ms - r.b.median_ms) / opts.steps;
  };
  const sets: [string, LoraRef[]][] = [
    ['0 LoRAs', []],
    ['1 LoRA', [{ name: names[0], weight: 0.8 }]],
    ['8 LoRAs', names.slice(0, 8).map((name) => ({ name, weight: 0.3 }))],
  ];
  const loraRows: Row[] = [];
  for (const [label, loras] of sets) {
    const t0 = performance.now();
    await gen({ loras, steps: 1 });
    const build = performance.now() - t0;
    loraRows.push({ loras: label, ms_per_step: fmt(await perStep({ loras })), first_call_incl_merge_ms: fmt(build) });
  }
  const fresh = new Engine({ modelsDir, loraDir, maxPixels: 4096 * 4096, maxSteps: 1000 });
  const mergeBuild = await timeIt(
    async () => {
      await fresh.cache.close();
      await fresh.generate([{ id: 'm', params: { ...base, steps: 1, loras: sets[2][1] } }]);
    },
    { warmup: 0, runs: 3 },
  );
  await fresh.close();
  loraRows.push({ loras: '8 LoRAs: merged-session build (cold, 1 step)', ms_per_step: '', first_call_incl_merge_ms: fmt(mergeBuild.median_ms) });

  const control = (
    await sharp({ create: { width: opts.width, height: opts.width, channels: 3, background: '#000' } })
      .composite([
        { input: { create: { width: opts.width / 2, height: opts.width / 2, channels: 3, background: '#fff' } }, left: opts.width / 4, top: opts.width / 4 },
      ])
      .png()
      .toBuffer()
  ).toString('base64');
  const unit = {
    image: control,
    module: 'canny' as const,
    model: 'default',
    weight: 1,
    guidance_start: 0,
    guidance_end: 1,
    processor_res: 512,
    threshold_a: 100,
    threshold_b: 200,
  };
  const plain = await perStep({});
  const withCn = await perStep({ controlnet: [unit] });
  const cnRows: Row[] = [
    { measure: 'ms per step without ControlNet', value: fmt(plain) },
    { measure: 'ms per step with 1 ControlNet unit', value: fmt(withCn) },
    { measure: 'overhead ratio', value: (withCn / plain).toFixed(2) },
  ];
  await engine.close();
  return writeResult('lora-controlnet', opts, [
    { title: `LoRA: time per denoising step (tiny, ${opts.width}x${opts.width}, CFG batch 2)`, rows: loraRows },
    { title: 'ControlNet overhead per step', rows: cnRows },
  ]);
}
