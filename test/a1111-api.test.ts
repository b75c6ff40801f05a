// The AUTOMATIC1111 API over HTTP against gateway + worker processes: shapes field by field, seed and infotext
// round trip, model switching, progress/interrupt, and refusal of anonymous and wrong-user requests.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, waitFor } from './helpers/farm';
import { a1111Farm } from './helpers/a1111-farm';

const farm = a1111Farm((f) => {
  // VAE_DIR: tiny's own decoder under another name, and tiny-alt's decoder
  const vaeDir = mkdtempSync(join(tmpdir(), 'a1111-vae-'));
  for (const [name, model] of [
    ['same-vae', 'tiny'],
    ['alt-vae', 'tiny-alt'],
  ]) {
    mkdirSync(join(vaeDir, name, 'vae_decoder'), { recursive: true });
    copyFileSync(join(f.modelsDir, model, 'vae_decoder/model.onnx'), join(vaeDir, name, 'vae_decoder/model.onnx'));
  }
  return { VAE_DIR: vaeDir };
});
const gateway = {
  get url() {
    return farm.url;
  },
};
const small = { prompt: 'a castle on a hill', negative_prompt: 'fog', width: 64, height: 64, steps: 5 };

test('txt2img answers images, parameters and info like the web UI', async () => {
  const alice = client(gateway.url);
  const r = await alice.post('/sdapi/v1/txt2img', {
    ...small,
    seed: 1234,
    batch_size: 2,
    sampler_name: 'DPM++ 2M',
    scheduler: 'Karras',
    cfg_scale: 6,
    restore_faces: null,
    denoising_strength: 0,
  });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['images', 'info', 'parameters']);
  assert.equal(r.body.images.length, 2);
  const png = Buffer.from(r.body.images[0], 'base64');
  assert.equal((await sharp(png).metadata()).width, 64);
  assert.equal(r.body.parameters.prompt, small.prompt);
  assert.equal(r.body.parameters.seed, 1234);
  const info = JSON.parse(r.body.info);
  for (const field of [
    'seed',
    'all_seeds',
    'all_prompts',
    'all_negative_prompts',
    'infotexts',
    'sd_model_name',
    'sampler_name',
    'cfg_scale',
    'steps',
    'width',
    'height',
    'batch_size',
    'index_of_first_image',
    'job_timestamp',
    'version',
  ]) {
    assert.ok(field in info, field);
  }
  assert.equal(info.seed, 1234);
  assert.deepEqual(info.all_seeds, [1234, 1235]);
  assert.equal(info.sd_model_name, 'tiny');
  assert.equal(info.sampler_name, 'DPM++ 2M');
  const pngInfo = await alice.post('/sdapi/v1/png-info', { image: `data:image/png;base64,${r.body.images[1]}` });
  assert.equal(pngInfo.status, 200);
  assert.equal(pngInfo.body.info, info.infotexts[1]);
  assert.equal(pngInfo.body.parameters.Seed, '1235');
  assert.equal(pngInfo.body.parameters.Prompt, small.prompt);
  assert.equal(pngInfo.body.parameters['Negative prompt'], 'fog');
  const refused = await alice.post('/sdapi/v1/txt2img', { ...small, restore_faces: true });
  assert.equal(refused.status, 422, 'face restoration changes the image and the farm has no face restorer');
  assert.deepEqual(refused.body.detail[0].loc, ['body', 'restore_faces']);
});

test('seed -1 reports the seed used, which reproduces the image', async () => {
  const alice = client(gateway.url);
  const first = await alice.post('/sdapi/v1/txt2img', { ...small, seed: -1 });
  const seed = JSON.parse(first.body.info).seed;
  assert.ok(Number.isInteger(seed) && seed >= 0);
  const again = await alice.post('/sdapi/v1/txt2img', { ...small, seed });
  assert.equal(again.body.images[0], first.body.images[0]);
  const infotext = JSON.parse(first.body.info).infotexts[0];
  const fromInfotext = await alice.post('/sdapi/v1/txt2img', { infotext });
  assert.equal(fromInfotext.status, 200);
  assert.equal(fromInfotext.body.images[0], first.body.images[0], "A1111's infotext field fills every unset field");
  assert.deepEqual([fromInfotext.body.parameters.steps, fromInfotext.body.parameters.width, fromInfotext.body.parameters.seed], [small.steps, 64, seed]);
});

test('img2img accepts init images with or without a data: prefix', async () => {
  const alice = client(gateway.url);
  const source = (await alice.post('/sdapi/v1/txt2img', { ...small, seed: 5 })).body.images[0];
  const a = await alice.post('/sdapi/v1/img2img', { ...small, seed: 9, init_images: [source], denoising_strength: 0.4 });
  const b = await alice.post('/sdapi/v1/img2img', { ...small, seed: 9, init_images: [`data:image/png;base64,${source}`], denoising_strength: 0.4 });
  assert.equal(a.status, 200);
  assert.equal(a.body.images[0], b.body.images[0]);
  assert.equal(JSON.parse(a.body.info).denoising_strength, 0.4);
  const missing = await alice.post('/sdapi/v1/img2img', small);
  assert.equal(missing.status, 404, 'A1111 answers 404 "Init image not found"');
  assert.equal(missing.body.detail, 'Init image not found');
});

test('model switching through override_settings and through options', async () => {
  const alice = client(gateway.url);
  const models = (await alice.get('/sdapi/v1/sd-models')).body;
  assert.deepEqual(
    models.map((m: any) => m.model_name),
    ['tiny', 'tiny-alt', 'tiny-cn'],
  );
  for (const f of ['title', 'model_name', 'hash', 'sha256', 'filename', 'config']) assert.ok(f in models[0], f);
  const base = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 3 });
  const alt = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 3, override_settings: { sd_model_checkpoint: 'tiny-alt.safetensors [abc123]' } });
  assert.equal(JSON.parse(alt.body.info).sd_model_name, 'tiny-alt');
  assert.notEqual(alt.body.images[0], base.body.images[0]);
  assert.equal((await alice.post('/sdapi/v1/options', { sd_model_checkpoint: 'tiny-alt' })).status, 200);
  assert.match((await alice.get('/sdapi/v1/options')).body.sd_model_checkpoint, /^tiny-alt\.safetensors \[[0-9a-f]{10}\]$/);
  const viaOptions = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 3 });
  assert.equal(viaOptions.body.images[0], alt.body.images[0]);
  assert.match((await client(gateway.url, 'bob').get('/sdapi/v1/options')).body.sd_model_checkpoint, /^tiny\.safetensors \[/, 'options are per user');
  const bad = await alice.post('/sdapi/v1/options', { sd_model_checkpoint: 'sdxl' });
  assert.equal(bad.status, 422);
  assert.match(bad.body.detail[0].msg, /available: tiny, tiny-alt, tiny-cn/);
  assert.deepEqual(bad.body.detail[0].loc, ['body', 'sd_model_checkpoint']);
  await alice.post('/sdapi/v1/options', { sd_model_checkpoint: 'tiny' });
});

test("validation errors have FastAPI's 422 detail shape and name valid choices", async () => {
  const alice = client(gateway.url);
  const cases: [unknown, RegExp][] = [
    [{ ...small, steps: 'many' }, /not a valid integer/],
    [{ ...small, override_settings: { sd_model_checkpoint: 'nope' } }, /unknown model "nope"; available: tiny, tiny-alt, tiny-cn/],
    [{ ...small, width: 70 }, /multiple of 8/],
    [
      { ...small, alwayson_scripts: { controlnet: { args: [{ image: 'AAAA', module: 'openpose' }] } } },
      /unknown ControlNet module "openpose"; available: canny, none/,
    ],
  ];
  for (const [body, message] of cases) {
    const r = await alice.post('/sdapi/v1/txt2img', body);
    assert.equal(r.status, 422, JSON.stringify(body).slice(0, 80));
    assert.ok(Array.isArray(r.body.detail));
    assert.equal(r.body.detail[0].loc[0], 'body');
    assert.match(r.body.detail[0].msg, message);
  }
  const sampler = await alice.post('/sdapi/v1/txt2img', { ...small, sampler_name: 'Warp' });
  assert.equal(sampler.status, 400, "A1111's validate_sampler_name answers 400");
  assert.equal(sampler.body.detail, 'Sampler not found');
  assert.ok(sampler.body.available.includes('Euler a'));
});

test("progress shows a live preview; interrupt acts on the caller's own job and returns the current image", async () => {
  const alice = client(gateway.url);
  const bob = client(gateway.url, 'bob');
  const idle = (await alice.get('/sdapi/v1/progress')).body;
  assert.equal(idle.progress, 0);
  assert.equal(idle.state.job_count, 0);
  assert.equal(idle.current_image, null);
  const pending = alice.post('/sdapi/v1/txt2img', { ...small, width: 192, height: 192, steps: 150, n_iter: 2, seed: 40 });
  const running = await waitFor("alice's job past step 10 with a preview", async () => {
    const p = (await alice.get('/sdapi/v1/progress')).body;
    return p.state.sampling_step >= 10 && p.current_image ? p : null;
  });
  for (const f of ['progress', 'eta_relative', 'state', 'current_image', 'textinfo']) assert.ok(f in running, f);
  assert.equal(running.state.sampling_steps, 150);
  assert.equal(running.state.job_count, 2, 'A1111 counts the iterations of n_iter as jobs');
  assert.ok(running.progress > 0 && running.progress < 1);
  const preview = await sharp(Buffer.from(running.current_image, 'base64')).metadata();
  assert.deepEqual([preview.format, preview.width, preview.height], ['png', 24, 24], "A1111's cheap approximation is at latent size");
  assert.equal((await alice.get('/sdapi/v1/progress?skip_current_image=true')).body.current_image, null);
  assert.equal((await bob.get('/sdapi/v1/progress')).body.state.job_count, 0, "bob does not see alice's job");
  await bob.post('/sdapi/v1/interrupt', {});
  assert.equal((await alice.get('/sdapi/v1/progress')).body.state.interrupted, false, 'bob cannot interrupt alice');
  assert.deepEqual((await alice.post('/sdapi/v1/interrupt', {})).body, {});
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(r.body.images.length, 1, 'the current iteration, decoded from its latent; the second never starts');
  const info = JSON.parse(r.body.info);
  assert.deepEqual(info.all_seeds, [40, 41]);
  assert.equal(info.infotexts.length, 1);
  assert.match(info.infotexts[0], /Seed: 40,/);
  assert.equal((await sharp(Buffer.from(r.body.images[0], 'base64')).metadata()).width, 192);
});

test('skip ends only the current iteration of n_iter; the next runs to the end', async () => {
  const alice = client(gateway.url);
  const body = { ...small, steps: 120, n_iter: 2, seed: 90 };
  const full = (await alice.post('/sdapi/v1/txt2img', body)).body;
  const pending = alice.post('/sdapi/v1/txt2img', body);
  await waitFor('the job running', async () => (await alice.get('/sdapi/v1/progress')).body.state.sampling_step > 0);
  assert.equal((await alice.post('/sdapi/v1/skip', {})).body, null);
  const r = (await pending).body;
  assert.equal(r.images.length, 2);
  assert.notEqual(r.images[0], full.images[0], 'the skipped iteration is decoded where it stopped');
  assert.equal(r.images[1], full.images[1], 'the next iteration is the full image');
});

test('native SSE: a job with live_preview_every gets preview events', async () => {
  const alice = client(gateway.url);
  // long enough that the stream is open before the first preview (it connects within milliseconds)
  const job = (await alice.post('/v1/jobs', { prompt: 'a lighthouse', width: 128, height: 128, steps: 100, seed: 3, live_preview_every: 25 })).body;
  const res = await fetch(`${gateway.url}${job.links.events}`, { headers: { authorization: alice.auth } });
  const text = await res.text();
  const previews = text
    .split('\n\n')
    .filter((e) => e.startsWith('event: preview'))
    .map((e) => JSON.parse(e.split('data: ')[1]));
  assert.ok(previews.length >= 1, 'at least one preview before the end');
  for (const p of previews) {
    assert.equal(p.step % 25, 0);
    assert.equal((await sharp(Buffer.from(p.image, 'base64')).metadata()).width, 16);
  }
});

test('lists: samplers, schedulers, loras, cmd-flags, ControlNet modules', async () => {
  const alice = client(gateway.url);
  const samplers = (await alice.get('/sdapi/v1/samplers')).body;
  assert.ok(samplers.some((s: any) => s.name === 'Euler a' && Array.isArray(s.aliases) && typeof s.options === 'object'));
  assert.deepEqual(
    (await alice.get('/sdapi/v1/schedulers')).body.find((s: any) => s.label === 'SGM Uniform'),
    { name: 'sgm_uniform', label: 'SGM Uniform', aliases: ['SGMUniform'], default_rho: -1, need_inner_model: true },
  );
  assert.deepEqual(
    samplers.find((s: any) => s.name === 'DPM++ 3M SDE'),
    { name: 'DPM++ 3M SDE', aliases: ['k_dpmpp_3m_sde'], options: { scheduler: 'exponential', discard_next_to_last_sigma: 'True', brownian_noise: 'True' } },
  );
  assert.deepEqual((await alice.get('/sdapi/v1/loras')).body, []);
  assert.equal((await alice.get('/sdapi/v1/cmd-flags')).body.api, true);
  assert.deepEqual((await alice.get('/controlnet/module_list')).body.module_list, ['none', 'canny']);
  assert.equal((await alice.post('/sdapi/v1/refresh-checkpoints', {})).status, 200);
});

test("every sampler of /sdapi/v1/samplers renders through txt2img, each with a schedule type, on A1111's discretization", async () => {
  const alice = client(gateway.url);
  const samplers: { name: string; options: { scheduler?: string } }[] = (await alice.get('/sdapi/v1/samplers')).body;
  const schedulers: { label: string }[] = (await alice.get('/sdapi/v1/schedulers')).body;
  assert.equal(samplers.length, 20);
  assert.equal(schedulers.length, 12);
  const runs = samplers.map((s, i) => ({ sampler: s, scheduler: schedulers[i % schedulers.length].label }));
  const results = await Promise.all(
    runs.map(({ sampler, scheduler }) =>
      alice.post('/sdapi/v1/txt2img', { prompt: 'a red kite', width: 64, height: 64, steps: 3, seed: 7, sampler_name: sampler.name, scheduler }),
    ),
  );
  results.forEach((r, i) => {
    const { sampler, scheduler } = runs[i];
    assert.equal(r.status, 200, `${sampler.name}: ${JSON.stringify(r.body).slice(0, 300)}`);
    const info = JSON.parse(r.body.info);
    const expected =
      scheduler === 'Automatic' && sampler.options.scheduler
        ? schedulers.find((x) => x.label.toLowerCase() === sampler.options.scheduler!.replace('_', ' '))!.label
        : scheduler;
    assert.match(
      info.infotexts[0],
      new RegExp(`Sampler: ${sampler.name.replace(/[+]/g, '\\+')}, Schedule type: ${expected}, .*Discretization: A1111`),
      sampler.name,
    );
  });
  const pngs = await Promise.all(results.map((r) => sharp(Buffer.from(r.body.images[0], 'base64')).raw().toBuffer()));
  assert.equal(pngs[0].length, 64 * 64 * 3);
  assert.ok(new Set(pngs.map((p) => p.toString('base64'))).size >= 15, 'the samplers give different images');
  // the schedule type changes the image; the native API's diffusers discretization differs from A1111's
  // the samplers' A1111 settings other than their defaults are refused, not ignored
  const refused = await alice.post('/sdapi/v1/txt2img', {
    prompt: 'a red kite',
    width: 64,
    height: 64,
    steps: 3,
    sampler_name: 'UniPC',
    override_settings: { uni_pc_order: 2 },
  });
  assert.equal(refused.status, 422);
  assert.match(JSON.stringify(refused.body), /uni_pc_order/);
  const [karras, exponential] = await Promise.all(
    ['Karras', 'Exponential'].map((scheduler) =>
      alice.post('/sdapi/v1/txt2img', { prompt: 'a red kite', width: 64, height: 64, steps: 3, seed: 7, sampler_name: 'Euler', scheduler }),
    ),
  );
  assert.notEqual(karras.body.images[0], exponential.body.images[0]);
  const job = await alice.post('/v1/jobs', {
    prompt: 'a red kite',
    width: 64,
    height: 64,
    steps: 3,
    seed: 7,
    sampler: 'Euler',
    scheduler: 'Karras',
    cfg_scale: 7,
  });
  const done = await alice.waitForJob(job.body.id);
  assert.match(done.output.infotexts[0], /Discretization: diffusers leading/);
  const native = await alice.get(`/v1/images/${job.body.id}/0.png`);
  const a = await sharp(native.body).raw().toBuffer();
  assert.notDeepEqual(a, await sharp(Buffer.from(karras.body.images[0], 'base64')).raw().toBuffer());
});

test('OpenAPI document and interactive docs', async () => {
  const alice = client(gateway.url);
  const doc = (await alice.get('/openapi.json')).body;
  assert.equal(doc.openapi, '3.1.0');
  for (const path of ['/sdapi/v1/txt2img', '/sdapi/v1/img2img', '/sdapi/v1/progress', '/v1/jobs', '/v1/jobs/{id}/events']) assert.ok(doc.paths[path], path);
  const docs = await alice.get('/docs');
  assert.equal(docs.status, 200);
  assert.match(docs.body.toString(), /swagger-ui/);
  assert.match((await alice.get('/docs/init.js')).body.toString(), /openapi\.json/);
  assert.equal((await fetch(`${gateway.url}/openapi.json`)).status, 401);
});

test('anonymous and wrong-password requests are refused; failed logins are rate-limited', async () => {
  assert.equal((await fetch(`${gateway.url}/sdapi/v1/sd-models`)).status, 401);
  const wrong = { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` };
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await fetch(`${gateway.url}/sdapi/v1/options`, { headers: wrong })).status);
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  const limited = await fetch(`${gateway.url}/sdapi/v1/options`, { headers: wrong });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
});

test('ControlNet: /controlnet/detect returns the canny map; a txt2img with a ControlNet unit runs', async () => {
  const alice = client(gateway.url);
  const drawn = (
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
      .composite([{ input: { create: { width: 24, height: 24, channels: 3, background: '#fff' } }, left: 20, top: 20 }])
      .png()
      .toBuffer()
  ).toString('base64');
  const detect = await alice.post('/controlnet/detect', {
    controlnet_module: 'canny',
    controlnet_input_images: [drawn],
    controlnet_processor_res: 64,
    controlnet_threshold_a: 100,
    controlnet_threshold_b: 200,
  });
  assert.equal(detect.status, 200);
  const map = await sharp(Buffer.from(detect.body.images[0], 'base64')).greyscale().raw().toBuffer();
  const white = map.reduce((n, v) => n + (v > 128 ? 1 : 0), 0);
  assert.ok(white > 60 && white < 200, `edges around the square only (${white} edge pixels)`);
  assert.equal(map[32 * 64 + 32], 0, 'no edge inside the square');
  const unit = { image: drawn, module: 'canny', model: 'default', weight: 1 };
  const withControl = await alice.post('/sdapi/v1/txt2img', {
    ...small,
    seed: 8,
    override_settings: { sd_model_checkpoint: 'tiny-cn' },
    alwayson_scripts: { controlnet: { args: [unit] } },
  });
  assert.equal(withControl.status, 200, JSON.stringify(withControl.body).slice(0, 200));
  const without = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 8, override_settings: { sd_model_checkpoint: 'tiny-cn' } });
  assert.notEqual(withControl.body.images[0], without.body.images[0]);
  assert.match(JSON.parse(withControl.body.info).infotexts[0], /ControlNet 0: "Module: canny/);
});

test("random sources: A1111's GPU source by default, randn_source in override_settings and options, variation seed echoed", async () => {
  const bob = client(gateway.url, 'bob');
  const pixels = async (b64: string) => sharp(Buffer.from(b64, 'base64')).raw().toBuffer();
  const gpu = await bob.post('/sdapi/v1/txt2img', { ...small, seed: 77 });
  assert.doesNotMatch(JSON.parse(gpu.body.info).infotexts[0], /RNG:/, 'GPU is the default and, as in A1111, not written');
  const cpu = await bob.post('/sdapi/v1/txt2img', { ...small, seed: 77, override_settings: { randn_source: 'CPU' } });
  assert.match(JSON.parse(cpu.body.info).infotexts[0], /RNG: CPU/);
  assert.ok(!(await pixels(cpu.body.images[0])).equals(await pixels(gpu.body.images[0])));
  assert.equal((await bob.post('/sdapi/v1/options', { randn_source: 'NV', eta_noise_seed_delta: 31337 })).status, 200);
  assert.equal((await bob.get('/sdapi/v1/options')).body.randn_source, 'NV');
  const nv = await bob.post('/sdapi/v1/txt2img', { ...small, seed: 77, sampler_name: 'Euler' });
  assert.match(JSON.parse(nv.body.info).infotexts[0], /ENSD: 31337.*RNG: NV/);
  const gpuEuler = await bob.post('/sdapi/v1/txt2img', { ...small, seed: 77, sampler_name: 'Euler', override_settings: { randn_source: 'GPU' } });
  assert.ok((await pixels(nv.body.images[0])).equals(await pixels(gpuEuler.body.images[0])), 'NV and GPU are the same Philox noise');
  await bob.post('/sdapi/v1/options', { randn_source: 'GPU', eta_noise_seed_delta: 0 });
  const bad = await bob.post('/sdapi/v1/txt2img', { ...small, override_settings: { randn_source: 'TPU' } });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.detail[0].loc, ['body', 'override_settings', 'randn_source']);
  const varied = await bob.post('/sdapi/v1/txt2img', { ...small, seed: 77, subseed: 5, subseed_strength: 0.25, batch_size: 2 });
  const info = JSON.parse(varied.body.info);
  assert.deepEqual([info.subseed, info.all_subseeds, info.subseed_strength], [5, [5, 6], 0.25]);
  assert.match(info.infotexts[1], /Variation seed: 6, Variation seed strength: 0.25/);
  assert.equal(info.notes, undefined, 'subseed fields are no longer ignored');
});

test('prompt editing through /sdapi/v1/txt2img: [a:b:N] with N past the last step renders a', async () => {
  const alice = client(gateway.url);
  const pixels = async (b64: string) => sharp(Buffer.from(b64, 'base64')).raw().toBuffer();
  const plain = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 11, prompt: 'a castle' });
  const edited = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 11, prompt: '[a castle:a forest:40]' });
  assert.equal(edited.status, 200);
  assert.ok((await pixels(edited.body.images[0])).equals(await pixels(plain.body.images[0])));
  assert.match(JSON.parse(edited.body.info).infotexts[0], /^\[a castle:a forest:40\]/, 'the infotext keeps the prompt as written');
  const switched = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 11, prompt: '[a castle:a forest:2]' });
  assert.ok(!(await pixels(switched.body.images[0])).equals(await pixels(plain.body.images[0])));
});

test('sd_vae picks a VAE from VAE_DIR for the job: listed, swapped, named in info and infotext', async () => {
  const alice = client(gateway.url);
  assert.deepEqual(
    (await alice.get('/sdapi/v1/sd-vae')).body.map((v: any) => v.model_name),
    ['alt-vae', 'same-vae'],
  );
  const raw = async (b64: string) => sharp(Buffer.from(b64, 'base64')).raw().toBuffer();
  const base = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 21 });
  const same = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 21, override_settings: { sd_vae: 'same-vae.safetensors' } });
  const alt = await alice.post('/sdapi/v1/txt2img', { ...small, seed: 21, override_settings: { sd_vae: 'alt-vae' } });
  assert.ok((await raw(same.body.images[0])).equals(await raw(base.body.images[0])), "the model's own decoder under another name decodes the same pixels");
  assert.ok(!(await raw(alt.body.images[0])).equals(await raw(base.body.images[0])), 'another decoder decodes other pixels');
  const info = JSON.parse(alt.body.info);
  assert.equal(info.sd_vae_name, 'alt-vae');
  assert.match(info.sd_vae_hash, /^[0-9a-f]{10}$/);
  assert.match(info.infotexts[0], new RegExp(`Model: tiny, VAE hash: ${info.sd_vae_hash}, VAE: alt-vae,`));
  assert.equal(JSON.parse(base.body.info).sd_vae_name, null);
  const bad = await alice.post('/sdapi/v1/txt2img', { ...small, override_settings: { sd_vae: 'nope' } });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.detail[0].loc, ['body', 'override_settings', 'sd_vae']);
  assert.match(bad.body.detail[0].msg, /available: Automatic, None, alt-vae, same-vae/);
});
