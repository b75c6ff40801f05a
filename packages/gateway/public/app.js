// The web page: plain modules, no framework, no build step. Jobs go through the native API (/v1/jobs: ids, SSE
// streams, the user's list, so a reload finds running jobs again); lists, options, PNG Info and Extras through /sdapi/v1.
import { t, applyLanguage, initialLanguage } from './i18n.js';
import { MaskEditor } from './mask-editor.js';
import { fromJobInput, fromInfotextParameters, applyStyleText } from './params.js';

const $ = (id) => document.getElementById(id);
const TERMINAL = ['succeeded', 'failed', 'canceled'];
const ACTIVE = ['queued', 'running'];
const HISTORY_PAGE = 8;
const GEN_MODES = ['txt2img', 'img2img', 'inpaint'];
const TABS = [...GEN_MODES, 'extras', 'pnginfo'];

const state = {
  mode: 'txt2img',
  initImage: null,
  inpaintImage: null,
  controlImage: null,
  extrasImage: null,
  /** every job this page knows, by id, newest data from the API or its stream */
  jobs: new Map(),
  streams: new Map(),
  /** the job the gallery shows, and which of its images is selected */
  shown: null,
  selected: 0,
  preview: null,
  genError: '',
  history: { jobs: [], total: 0, offset: 0 },
  health: { state: 'ok' },
  warning: null,
  serverStyles: [],
  userStyles: [],
  modelInfo: new Map(),
  pngParams: null,
};
const mask = new MaskEditor($('mask-canvas'));

// ---------- API ----------

async function errorMessage(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const detail =
    body?.error?.message ??
    (Array.isArray(body?.detail) ? body.detail.map((d) => `${(d.loc ?? []).slice(1).join('.')}: ${d.msg}`).join('; ') : body?.detail) ??
    body?.error;
  if (res.status === 401) return t('err_login');
  if (res.status === 429) return t('err_rate', { s: res.headers.get('retry-after') ?? '?' });
  if (res.status === 503) return t('err_unavailable', { detail: detail ?? res.statusText });
  return t('err_status', { status: res.status, detail: typeof detail === 'string' ? detail : res.statusText });
}

async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, { ...options, headers: { 'content-type': 'application/json', ...(options.headers ?? {}) } });
  } catch {
    throw new Error(t('err_unreachable'));
  }
  if (!res.ok) throw new Error(await errorMessage(res));
  return res.json();
}

const post = (path, body) => api(path, { method: 'POST', body: JSON.stringify(body) });

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(t('err_file')));
    reader.readAsDataURL(blob);
  });
}

const imageSize = (src) =>
  new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => reject(new Error(t('err_file')));
    img.src = src;
  });

// ---------- lists, models, options ----------

function fillSelect(select, items, selected) {
  select.replaceChildren(
    ...items.map((v) => {
      const [value, label] = Array.isArray(v) ? v : [v, v];
      return new Option(label, value, value === selected, value === selected);
    }),
  );
}

async function loadModels() {
  const [models, sd] = await Promise.all([api('/v1/models'), api('/sdapi/v1/sd-models').catch(() => [])]);
  state.modelInfo = new Map(sd.map((m) => [m.model_name, m]));
  state.modelWorkers = models.workers ?? {};
  const current = $('model').value || models.default;
  fillSelect($('model'), models.models, models.models.includes(current) ? current : models.default);
  showModelHash();
}

function showModelHash() {
  const info = state.modelInfo.get($('model').value);
  $('model-hash').textContent = info?.hash ? `[${info.hash}]` : '';
}

async function loadLists() {
  const [samplers, loras, upscalers, latent, vaes, styles] = await Promise.all([
    api('/v1/samplers'),
    api('/sdapi/v1/loras').catch(() => []),
    api('/sdapi/v1/upscalers').catch(() => []),
    api('/sdapi/v1/latent-upscale-modes').catch(() => []),
    api('/sdapi/v1/sd-vae').catch(() => []),
    api('/sdapi/v1/prompt-styles').catch(() => []),
  ]);
  fillSelect(
    $('sampler'),
    samplers.samplers.map((s) => s.name),
    'Euler a',
  );
  fillSelect(
    $('scheduler'),
    samplers.schedulers.map((s) => s.label),
    'Automatic',
  );
  state.loras = loras.map((l) => l.name);
  renderLoras();
  fillSelect($('hr_upscaler'), [...latent.map((m) => m.name), ...upscalers.map((u) => u.name).filter((n) => n !== 'None')], 'Latent');
  fillSelect(
    $('extras-upscaler'),
    upscalers.map((u) => u.name).filter((n) => n !== 'None'),
    upscalers.find((u) => u.name !== 'None')?.name,
  );
  fillSelect($('sd_vae'), ['Automatic', 'None', ...vaes.map((v) => v.model_name)], 'Automatic');
  state.serverStyles = styles;
}

function renderLoras() {
  const names = state.loras ?? [];
  fillSelect($('lora-name'), names.length ? names : [['', t('lora_none')]], names[0] ?? '');
  $('lora-add').disabled = names.length === 0;
}

/** Per-user settings: A1111's options (CLIP_stop_at_last_layers, sd_vae, randn_source, ...) plus the page's styles. */
async function loadOptions() {
  const o = await api('/sdapi/v1/options');
  for (const el of document.querySelectorAll('[data-option]')) {
    const v = o[el.dataset.option];
    if (v === undefined || v === null) continue;
    if (el.type === 'checkbox') el.checked = Boolean(v);
    else {
      if (el.tagName === 'SELECT' && ![...el.options].some((opt) => opt.value === String(v))) el.add(new Option(String(v), String(v)));
      el.value = String(v);
    }
  }
  state.userStyles = Array.isArray(o.webui_styles) ? o.webui_styles.filter((s) => s && typeof s.name === 'string') : [];
  // the stored checkpoint is A1111's title ("name [hash]"); the dropdown holds names
  const stored = [...state.modelInfo.values()].find((m) => m.title === o.sd_model_checkpoint || m.model_name === o.sd_model_checkpoint);
  if (stored && [...$('model').options].some((opt) => opt.value === stored.model_name)) $('model').value = stored.model_name;
  showModelHash();
  renderStyles();
}

async function saveOption(key, value, note = $('settings-note')) {
  note.textContent = '';
  try {
    await post('/sdapi/v1/options', { [key]: value });
    note.textContent = t('settings_saved');
  } catch (e) {
    note.textContent = e.message;
  }
}

function optionValue(el) {
  if (el.type === 'checkbox') return el.checked;
  if (el.type === 'number') return Number(el.value);
  return el.value;
}

// ---------- styles ----------

function allStyles() {
  return [...state.serverStyles, ...state.userStyles];
}

function renderStyles() {
  const names = allStyles().map((s) => s.name);
  fillSelect($('style'), names.length ? names : [['', t('no_styles')]], names[0] ?? '');
  $('style-apply').disabled = names.length === 0;
}

function applyStyle() {
  const style = allStyles().find((s) => s.name === $('style').value);
  if (!style) return;
  $('prompt').value = applyStyleText(style.prompt ?? '', $('prompt').value);
  $('negative_prompt').value = applyStyleText(style.negative_prompt ?? '', $('negative_prompt').value);
}

async function saveStyle() {
  const name = $('style-name').value.trim();
  if (!name) {
    $('style-note').textContent = t('style_name_needed');
    return;
  }
  const style = { name, prompt: $('prompt').value, negative_prompt: $('negative_prompt').value };
  state.userStyles = [...state.userStyles.filter((s) => s.name !== name), style];
  await saveOption('webui_styles', state.userStyles, $('style-note'));
  if ($('style-note').textContent === t('settings_saved')) $('style-note').textContent = t('style_saved', { name });
  renderStyles();
  $('style').value = name;
}

// ---------- tabs ----------

function selectTab(mode) {
  state.mode = mode;
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.id === `tab-${mode}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  const gen = GEN_MODES.includes(mode);
  $('panel-gen').hidden = !gen;
  $('panel-extras').hidden = mode !== 'extras';
  $('panel-pnginfo').hidden = mode !== 'pnginfo';
  if (gen) $('panel-gen').setAttribute('aria-labelledby', `tab-${mode}`);
  $('img2img-input').hidden = mode !== 'img2img';
  $('inpaint-input').hidden = mode !== 'inpaint';
  $('denoise-row').hidden = mode === 'txt2img';
  $('hires-section').hidden = mode !== 'txt2img';
}

// ---------- the request ----------

function requestBody() {
  const num = (id) => Number($(id).value);
  const vae = $('sd_vae').value;
  if (vae !== 'Automatic' && vae !== 'None') throw new Error(t('vae_unsupported', { vae }));
  const body = {
    model: $('model').value,
    prompt: $('prompt').value,
    negative_prompt: $('negative_prompt').value,
    sampler: $('sampler').value,
    scheduler: $('scheduler').value,
    steps: num('steps'),
    cfg_scale: num('cfg_scale'),
    width: num('width'),
    height: num('height'),
    seed: num('seed'),
    batch_size: num('batch_size'),
    n_iter: num('n_iter'),
    clip_skip: num('clip_skip'),
    randn_source: $('randn_source').value,
    eta_noise_seed_delta: num('ensd'),
    live_preview_every: $('live_previews').checked ? num('preview_every') : 0,
  };
  // fields A1111 leaves at their neutral values are not sent, so the request names only what the user chose
  if ($('tiling').checked) body.tiling = true;
  if (num('subseed_strength') > 0) Object.assign(body, { subseed: num('subseed'), subseed_strength: num('subseed_strength') });
  if ($('cn-enabled').checked) {
    if (!state.controlImage) throw new Error(t('cn_need_image'));
    body.controlnet = [
      {
        image: state.controlImage,
        module: $('cn-module').value,
        weight: num('cn-weight'),
        guidance_start: num('cn-start'),
        guidance_end: num('cn-end'),
        threshold_a: num('cn-low'),
        threshold_b: num('cn-high'),
      },
    ];
  }
  if (state.mode === 'txt2img' && $('enable_hr').checked) {
    Object.assign(body, {
      enable_hr: true,
      hr_upscaler: $('hr_upscaler').value,
      hr_scale: num('hr_scale'),
      hr_second_pass_steps: num('hr_second_pass_steps'),
      hr_resize_x: num('hr_resize_x'),
      hr_resize_y: num('hr_resize_y'),
      denoising_strength: num('hr_denoise'),
    });
  }
  if (state.mode === 'img2img') {
    if (!state.initImage) throw new Error(t('need_init'));
    Object.assign(body, { kind: 'img2img', init_image: state.initImage, denoising_strength: num('denoising_strength'), resize_mode: num('resize_mode') });
  }
  if (state.mode === 'inpaint') {
    if (!state.inpaintImage) throw new Error(t('need_inpaint_image'));
    if (mask.isEmpty()) throw new Error(t('need_mask'));
    Object.assign(body, {
      kind: 'img2img',
      init_image: state.inpaintImage,
      mask: mask.toMask(),
      denoising_strength: num('denoising_strength'),
      resize_mode: num('resize_mode'),
      mask_blur: num('mask_blur'),
      inpainting_mask_invert: num('inpainting_mask_invert'),
      inpainting_fill: num('inpainting_fill'),
      inpaint_full_res: $('inpaint_full_res').value === '1',
      inpaint_full_res_padding: num('inpaint_full_res_padding'),
    });
  }
  return body;
}

// ---------- jobs: submit, follow, cancel ----------

async function generate(event) {
  event?.preventDefault();
  state.genError = '';
  let body;
  try {
    body = requestBody();
  } catch (e) {
    return failSubmit(e.message);
  }
  $('generate').disabled = true;
  try {
    const job = await post('/v1/jobs', body);
    state.warning = job.warnings?.[0] ?? null;
    renderBanner();
    state.jobs.set(job.id, job);
    showJob(job.id);
    renderQueue();
    follow(job.id);
    void loadHistory();
  } catch (e) {
    failSubmit(e.message);
  } finally {
    $('generate').disabled = false;
  }
}

/** A refused request: the message goes next to Generate and replaces whatever the gallery showed. */
function failSubmit(message) {
  state.genError = message;
  state.shown = null;
  state.preview = null;
  renderGallery();
}

function showJob(id) {
  state.shown = id;
  state.selected = 0;
  state.preview = null;
  state.genError = '';
  renderGallery();
}

/** Follows a job's SSE stream until it ends (the browser reconnects a dropped stream by itself). */
function follow(id) {
  if (state.streams.has(id)) return;
  const source = new EventSource(`/v1/jobs/${id}/events`);
  state.streams.set(id, source);
  source.addEventListener('status', (ev) => update(JSON.parse(ev.data)));
  source.addEventListener('preview', (ev) => {
    if (state.shown !== id) return;
    state.preview = JSON.parse(ev.data);
    renderGallery();
  });
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) return;
    // refused (the job is gone or not ours): read it once more, then stop
    state.streams.delete(id);
    api(`/v1/jobs/${id}`).then(update, () => {
      state.jobs.delete(id);
      renderAll();
    });
  };
}

function update(job) {
  state.jobs.set(job.id, job);
  if (TERMINAL.includes(job.status)) {
    state.streams.get(job.id)?.close();
    state.streams.delete(job.id);
    if (job.id === state.shown) state.preview = null;
    void loadHistory();
  }
  if (job.id === state.shown) renderGallery();
  renderQueue();
  renderHistory();
}

async function cancelJob(id) {
  try {
    update(await api(`/v1/jobs/${id}`, { method: 'DELETE' }));
    if (id === state.shown && !TERMINAL.includes(state.jobs.get(id)?.status)) $('status').textContent = t('canceling');
  } catch (e) {
    state.genError = e.message;
    renderGallery();
  }
}

function activeJobs() {
  return [...state.jobs.values()].filter((j) => ACTIVE.includes(j.status)).sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** On load: the user's queued and running jobs (newest 100), followed again; the newest is shown. */
async function reattach() {
  const page = await api('/v1/jobs?limit=100');
  const active = page.jobs.filter((j) => ACTIVE.includes(j.status));
  for (const j of active) {
    state.jobs.set(j.id, j);
    follow(j.id);
  }
  if (active.length && !state.shown) showJob(active[0].id);
  renderQueue();
}

// ---------- rendering ----------

function statusText(job) {
  if (job.status === 'queued') return job.queue_position ? t('queued_pos', { pos: job.queue_position }) : t('queued');
  if (job.status === 'running') {
    if (job.cancel_requested) return t('canceling');
    if (!job.progress || !job.progress.step) return t('starting');
    const eta = job.progress.eta_seconds != null ? `, ${t('eta', { s: Math.ceil(job.progress.eta_seconds) })}` : '';
    return `${t('step', { step: job.progress.step, steps: job.progress.steps })}${eta}`;
  }
  if (job.status === 'succeeded') return t('done', { s: (job.metrics?.total_seconds ?? 0).toFixed(2) });
  if (job.status === 'canceled') return t('canceled');
  return t('failed', { error: job.error ?? '' });
}

function setProgress(pct) {
  $('progress').setAttribute('aria-valuenow', String(pct));
  $('progress-fill').style.width = `${pct}%`;
}

function renderGallery() {
  const job = state.shown ? state.jobs.get(state.shown) : null;
  $('gen-error').textContent = state.genError;
  const images = job?.status === 'succeeded' ? (job.output?.images ?? []) : [];
  const active = job && ACTIVE.includes(job.status);
  $('interrupt').disabled = !active;
  // Skip ends the current iteration of batch count; with one iteration it would be Interrupt
  $('skip').disabled = !(job?.status === 'running' && job.input.n_iter > 1);
  if (!job) {
    setProgress(0);
    $('status').textContent = t('idle');
  } else {
    const p = job.progress;
    setProgress(job.status === 'succeeded' ? 100 : job.status === 'running' && p?.steps ? Math.round((p.step / p.steps) * 100) : 0);
    $('status').textContent = statusText(job);
  }
  const error = state.genError || (job?.status === 'failed' ? statusText(job) : '');
  $('gallery-error').textContent = error;
  $('gallery-error').hidden = !error;
  const preview = active && state.preview;
  $('live-preview').hidden = !preview;
  if (preview) {
    $('live-preview').src = `data:image/png;base64,${state.preview.image}`;
    $('live-preview').alt = t('live_preview', { step: state.preview.step });
  }
  state.selected = Math.min(state.selected, Math.max(0, images.length - 1));
  const url = images[state.selected];
  $('main-button').hidden = !url;
  $('image-actions').hidden = !url;
  $('infotext').hidden = !url;
  if (url) {
    const img = $('main-image');
    if (img.getAttribute('src') !== url) img.src = url;
    img.alt = t('result_alt', { n: state.selected + 1, count: images.length, prompt: job.input.prompt || t('empty_prompt') });
    $('main-button').setAttribute('aria-label', `${t('zoom')}: ${img.alt}`);
    $('download').href = url;
    $('download').setAttribute('download', `${job.id}-${state.selected}.png`);
    $('infotext').textContent = `${job.output.infotexts[state.selected] ?? ''}\n${t('done', { s: (job.metrics?.total_seconds ?? 0).toFixed(2) })}`;
  } else {
    $('main-image').removeAttribute('src');
  }
  $('thumbs').hidden = images.length < 2;
  $('thumbs').replaceChildren(
    ...(images.length < 2
      ? []
      : images.map((src, i) => {
          const b = document.createElement('button');
          b.type = 'button';
          b.className = 'thumb';
          b.setAttribute('aria-pressed', String(i === state.selected));
          b.setAttribute('aria-label', t('image_n', { n: i + 1 }));
          const img = new Image();
          img.src = src;
          img.alt = '';
          b.append(img);
          b.addEventListener('click', () => {
            state.selected = i;
            renderGallery();
          });
          return b;
        })),
  );
}

function renderQueue() {
  const jobs = activeJobs();
  const items = jobs.map((j) => {
    const li = document.createElement('li');
    li.dataset.id = j.id;
    li.dataset.status = j.status;
    const text = document.createElement('span');
    text.textContent = `${statusText(j)} — ${j.input.prompt || t('empty_prompt')}`;
    li.append(
      text,
      button(t('open'), () => showJob(j.id)),
      button(t('cancel'), () => void cancelJob(j.id), `${t('cancel')}: ${j.input.prompt || j.id}`),
    );
    return li;
  });
  if (!items.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = t('queue_empty');
    items.push(li);
  }
  $('queue').replaceChildren(...items);
}

function button(label, onClick, ariaLabel) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
  b.addEventListener('click', onClick);
  return b;
}

function renderHistory() {
  const { jobs, total, offset } = state.history;
  const items = jobs.map((listed) => {
    const j = state.jobs.get(listed.id) ?? listed;
    const li = document.createElement('li');
    li.dataset.id = j.id;
    li.dataset.status = j.status;
    const thumbs = document.createElement('span');
    thumbs.className = 'history-thumbs';
    for (const src of j.output?.images?.slice(0, 8) ?? []) {
      const img = new Image();
      img.src = src;
      img.alt = '';
      thumbs.append(img);
    }
    const text = document.createElement('span');
    const i = j.input;
    const extras = i.kind === 'extras';
    // an upscale (Extras) has no prompt, sampler or seed of its own: its upscaler and size say what it was
    const what = extras
      ? `${t('tab_extras')} · ${i.extras?.upscaler_1 ?? ''} · ${i.width}x${i.height}`
      : `${i.inpaint ? t('tab_inpaint') : t(`tab_${i.kind}`)} · ${i.model} · ${i.sampler} · ${i.width}x${i.height} · ${t('seed')} ${i.seed} — ${i.prompt || t('empty_prompt')}`;
    text.textContent = `${t(`status_${j.status}`)} · ${what}`;
    const who = i.prompt || j.id;
    li.append(
      thumbs,
      text,
      button(
        t('open'),
        () => {
          state.jobs.set(j.id, j);
          showJob(j.id);
          if (ACTIVE.includes(j.status)) follow(j.id);
        },
        `${t('open')}: ${who}`,
      ),
    );
    if (!extras) li.append(button(t('reuse_params'), () => applyFields(fromJobInput(i)), `${t('reuse_params')}: ${who}`));
    if (ACTIVE.includes(j.status)) li.append(button(t('cancel'), () => void cancelJob(j.id), `${t('cancel')}: ${who}`));
    return li;
  });
  if (!items.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = t('history_empty');
    items.push(li);
  }
  $('history').replaceChildren(...items);
  const pages = Math.max(1, Math.ceil(total / HISTORY_PAGE));
  $('history-page').textContent = t('page_of', { page: Math.floor(offset / HISTORY_PAGE) + 1, pages });
  $('history-prev').disabled = offset === 0;
  $('history-next').disabled = offset + HISTORY_PAGE >= total;
}

let historyLoading = null;
async function loadHistory() {
  // one request at a time; a change during it asks for one more afterwards
  if (historyLoading) {
    historyLoading.again = true;
    return;
  }
  historyLoading = { again: false };
  try {
    const page = await api(`/v1/jobs?limit=${HISTORY_PAGE}&offset=${state.history.offset}`);
    state.history = { jobs: page.jobs, total: page.total, offset: state.history.offset };
    for (const j of page.jobs) {
      // jobs started elsewhere (another tab, the API) are followed too, so the list stays live
      if (ACTIVE.includes(j.status)) {
        if (!state.jobs.has(j.id)) state.jobs.set(j.id, j);
        follow(j.id);
      }
    }
    renderHistory();
    renderQueue();
  } catch (e) {
    $('history-page').textContent = e.message;
  } finally {
    const again = historyLoading.again;
    historyLoading = null;
    if (again) void loadHistory();
  }
}

function renderBanner() {
  const h = state.health;
  let text = '';
  if (h.state === 'unreachable') text = t('banner_unreachable');
  else if (h.state === 'not_ready') text = t('banner_not_ready', { reason: h.reason });
  else if (h.state === 'no_worker') text = t('banner_no_worker');
  else if (state.modelWorkers?.[$('model').value] === 0) text = t('banner_no_worker_model', { model: $('model').value });
  else if (state.warning) text = t('banner_warning', { warning: state.warning });
  $('banner').textContent = text;
  $('banner').hidden = !text;
}

async function checkHealth() {
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    const body = await res.json().catch(() => ({}));
    const was = state.health.state;
    if (!res.ok) state.health = { state: 'not_ready', reason: body.reason ?? res.statusText };
    else state.health = { state: body.workers > 0 ? 'ok' : 'no_worker' };
    // a worker came online: the submit-time warning about a missing worker may be stale
    if (was !== 'ok' && state.health.state === 'ok') state.warning = null;
    // which models have a live worker (the banner names the chosen model when none has it)
    if (state.health.state === 'ok') {
      const models = await api('/v1/models').catch(() => null);
      if (models?.workers) state.modelWorkers = models.workers;
    }
  } catch {
    state.health = { state: 'unreachable' };
  }
  renderBanner();
}

function renderHiresTarget() {
  const w = Number($('width').value);
  const h = Number($('height').value);
  const rx = Number($('hr_resize_x').value);
  const ry = Number($('hr_resize_y').value);
  const s = Number($('hr_scale').value);
  let tw = Math.trunc(w * s);
  let th = Math.trunc(h * s);
  if (rx && ry) {
    tw = rx;
    th = ry;
  } else if (rx) {
    tw = rx;
    th = Math.floor((rx * h) / w);
  } else if (ry) {
    th = ry;
    tw = Math.floor((ry * w) / h);
  }
  $('hr-target').textContent = t('hr_target', { w: tw, h: th });
}

function renderAll() {
  renderGallery();
  renderQueue();
  renderHistory();
  renderBanner();
  renderLoras();
  renderStyles();
  renderHiresTarget();
}

// ---------- form values in and out ----------

function applyFields(fields) {
  for (const [id, value] of Object.entries(fields)) {
    const el = $(id);
    if (!el) continue;
    if (el.type === 'checkbox') el.checked = Boolean(value);
    else if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === String(value))) continue;
    else el.value = String(value);
  }
  renderHiresTarget();
}

async function setInitImage(dataUrl) {
  state.initImage = dataUrl;
  $('init-preview').src = dataUrl;
  $('init-preview').hidden = false;
}

async function setInpaintImage(dataUrl) {
  const { width, height } = await imageSize(dataUrl);
  state.inpaintImage = dataUrl;
  $('inpaint-preview').src = dataUrl;
  $('mask-stage').hidden = false;
  mask.reset(width, height);
}

/** A1111's "send to": the selected image becomes the input, and its size the target size. */
async function sendSelected(mode) {
  const job = state.jobs.get(state.shown);
  const url = job?.output?.images?.[state.selected];
  if (!url) return;
  const dataUrl = await readAsDataUrl(await (await fetch(url)).blob());
  if (mode === 'img2img') await setInitImage(dataUrl);
  else await setInpaintImage(dataUrl);
  const { width, height } = await imageSize(dataUrl);
  applyFields({ width, height, ...(job.input.kind === 'extras' ? {} : { prompt: job.input.prompt, negative_prompt: job.input.negative_prompt }) });
  selectTab(mode);
  $(`tab-${mode}`).focus();
}

function selectedSeed() {
  const job = state.jobs.get(state.shown);
  return job?.output?.seeds?.[state.selected] ?? null;
}

async function copySeed() {
  const seed = selectedSeed();
  if (seed === null) return;
  try {
    await navigator.clipboard.writeText(String(seed));
  } catch {
    /* no clipboard permission: the note still shows it */
  }
  $('action-note').textContent = t('seed_copied', { seed });
}

function insertLora() {
  const name = $('lora-name').value;
  if (!name) return;
  $('prompt').value = `${$('prompt').value.trim()} <lora:${name}:${Number($('lora-weight').value)}>`.trim();
}

async function previewControlMap() {
  $('gen-error').textContent = '';
  if (!state.controlImage) {
    $('gen-error').textContent = t('cn_need_image');
    return;
  }
  try {
    const r = await post('/controlnet/detect', {
      controlnet_module: $('cn-module').value,
      controlnet_input_images: [state.controlImage],
      controlnet_processor_res: 256,
      controlnet_threshold_a: Number($('cn-low').value),
      controlnet_threshold_b: Number($('cn-high').value),
    });
    $('cn-map').src = `data:image/png;base64,${r.images[0]}`;
    $('cn-map').hidden = false;
  } catch (e) {
    $('gen-error').textContent = e.message;
  }
}

// ---------- Extras and PNG Info ----------

async function runExtras() {
  $('extras-error').textContent = '';
  if (!state.extrasImage) {
    $('extras-error').textContent = t('need_init');
    return;
  }
  $('extras-run').disabled = true;
  try {
    const r = await post('/sdapi/v1/extra-single-image', {
      image: state.extrasImage.slice(state.extrasImage.indexOf(',') + 1),
      resize_mode: 0,
      upscaling_resize: Number($('extras-scale').value),
      upscaler_1: $('extras-upscaler').value,
    });
    $('extras-result').src = `data:image/png;base64,${r.image}`;
    $('extras-result').hidden = false;
    $('extras-info').textContent = new DOMParser().parseFromString(r.html_info ?? '', 'text/html').body.textContent ?? '';
  } catch (e) {
    $('extras-result').hidden = true;
    $('extras-error').textContent = e.message;
  } finally {
    $('extras-run').disabled = false;
  }
}

async function readPngInfo(file) {
  $('pnginfo-error').textContent = '';
  $('pnginfo-send').disabled = true;
  state.pngParams = null;
  try {
    const dataUrl = await readAsDataUrl(file);
    $('pnginfo-preview').src = dataUrl;
    $('pnginfo-preview').hidden = false;
    const r = await post('/sdapi/v1/png-info', { image: dataUrl });
    $('pnginfo-text').textContent = r.info || t('pnginfo_none');
    if (r.info) {
      state.pngParams = r.parameters;
      $('pnginfo-send').disabled = false;
    }
  } catch (e) {
    $('pnginfo-text').textContent = '';
    $('pnginfo-error').textContent = e.message;
  }
}

// ---------- wiring ----------

$('panel-gen').addEventListener('submit', generate);
for (const id of ['prompt', 'negative_prompt'])
  $(id).addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void generate(e);
  });
$('interrupt').addEventListener('click', () => {
  const id = state.shown && ACTIVE.includes(state.jobs.get(state.shown)?.status) ? state.shown : activeJobs().at(-1)?.id;
  if (id) void cancelJob(id);
});
$('skip').addEventListener('click', () => {
  const id = state.shown;
  if (!id) return;
  post(`/v1/jobs/${id}/skip`, {}).catch((e) => {
    state.genError = e.message;
    renderGallery();
  });
});
$('seed-random').addEventListener('click', () => {
  $('seed').value = '-1';
});
$('seed-reuse').addEventListener('click', () => {
  const s = selectedSeed();
  if (s !== null) $('seed').value = String(s);
});
$('lora-add').addEventListener('click', insertLora);
$('style-apply').addEventListener('click', applyStyle);
$('style-save').addEventListener('click', () => void saveStyle());
$('init-image').addEventListener('change', (e) => {
  const f = e.target.files?.[0];
  if (f)
    readAsDataUrl(f)
      .then(setInitImage)
      .catch((err) => failSubmit(err.message));
});
$('inpaint-image').addEventListener('change', (e) => {
  const f = e.target.files?.[0];
  if (f)
    readAsDataUrl(f)
      .then(setInpaintImage)
      .catch((err) => failSubmit(err.message));
});
$('cn-image').addEventListener('change', (e) => {
  const f = e.target.files?.[0];
  if (f)
    readAsDataUrl(f).then(
      (d) => {
        state.controlImage = d;
        $('cn-enabled').checked = true;
      },
      (err) => failSubmit(err.message),
    );
});
$('cn-preview').addEventListener('click', () => void previewControlMap());
$('brush-size').addEventListener('input', () => {
  mask.brush = Number($('brush-size').value);
});
$('eraser').addEventListener('change', () => {
  mask.erase = $('eraser').checked;
});
$('mask-invert').addEventListener('click', () => mask.invert());
$('mask-clear').addEventListener('click', () => mask.clear());
for (const id of ['width', 'height', 'hr_scale', 'hr_resize_x', 'hr_resize_y']) $(id).addEventListener('input', renderHiresTarget);
$('main-button').addEventListener('click', () => {
  $('zoom-image').src = $('main-image').src;
  $('zoom-image').alt = $('main-image').alt;
  $('zoom').showModal();
});
$('copy-seed').addEventListener('click', () => void copySeed());
$('send-img2img').addEventListener('click', () => void sendSelected('img2img'));
$('send-inpaint').addEventListener('click', () => void sendSelected('inpaint'));
$('history-prev').addEventListener('click', () => {
  state.history.offset = Math.max(0, state.history.offset - HISTORY_PAGE);
  void loadHistory();
});
$('history-next').addEventListener('click', () => {
  state.history.offset += HISTORY_PAGE;
  void loadHistory();
});
$('model').addEventListener('change', () => {
  showModelHash();
  renderBanner();
  void saveOption('sd_model_checkpoint', $('model').value);
});
$('model-refresh').addEventListener('click', () => {
  post('/sdapi/v1/refresh-checkpoints', {})
    .catch(() => null)
    .then(loadModels)
    .catch((e) => failSubmit(e.message));
});
for (const el of document.querySelectorAll('[data-option]')) el.addEventListener('change', () => void saveOption(el.dataset.option, optionValue(el)));
$('extras-image').addEventListener('change', (e) => {
  const f = e.target.files?.[0];
  if (f)
    readAsDataUrl(f).then(
      (d) => {
        state.extrasImage = d;
      },
      (err) => {
        $('extras-error').textContent = err.message;
      },
    );
});
$('extras-run').addEventListener('click', () => void runExtras());
$('pnginfo-file').addEventListener('change', (e) => {
  const f = e.target.files?.[0];
  if (f) void readPngInfo(f);
});
$('pnginfo-drop').addEventListener('dragover', (e) => e.preventDefault());
$('pnginfo-drop').addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files?.[0];
  if (f) void readPngInfo(f);
});
$('pnginfo-send').addEventListener('click', () => {
  if (!state.pngParams) return;
  applyFields(fromInfotextParameters(state.pngParams));
  selectTab('txt2img');
  $('prompt').focus();
});
$('lang').addEventListener('change', () => {
  localStorage.setItem('lang', $('lang').value);
  applyLanguage($('lang').value);
  renderAll();
});
const tabs = [...document.querySelectorAll('[role=tab]')];
for (const tab of tabs) {
  tab.addEventListener('click', () => selectTab(tab.id.replace('tab-', '')));
  tab.addEventListener('keydown', (e) => {
    const i = TABS.indexOf(state.mode);
    const next = { ArrowRight: (i + 1) % TABS.length, ArrowLeft: (i + TABS.length - 1) % TABS.length, Home: 0, End: TABS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    selectTab(TABS[next]);
    $(`tab-${TABS[next]}`).focus();
  });
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    void loadHistory();
    void checkHealth();
  }
});

const lang = initialLanguage(localStorage.getItem('lang'), navigator.languages);
$('lang').value = lang;
applyLanguage(lang);
selectTab('txt2img');
renderAll();
void checkHealth();
setInterval(() => void checkHealth(), 5000);
// jobs submitted elsewhere (the API, another tab) have no stream here until the list shows them: look every 10 s
setInterval(() => {
  if (!document.hidden) void loadHistory();
}, 10_000);
(async () => {
  await Promise.all([loadModels(), loadLists()]);
  await loadOptions();
  renderAll();
  document.body.dataset.ready = 'true';
  await Promise.all([reattach(), loadHistory()]);
})().catch((e) => failSubmit(e.message));
