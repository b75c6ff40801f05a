// The web page: plain modules, no framework. Talks to the native API (/v1) and the A1111 lists (/sdapi/v1).
const $ = (id) => document.getElementById(id);
const state = { mode: 'txt2img', initImage: null, controlImage: null, lastSeed: null, current: null, source: null, historyOffset: 0 };
const HISTORY_PAGE = 5;

function showError(message) {
  const alert = $('alert');
  alert.textContent = message;
  alert.hidden = !message;
}

async function errorMessage(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const detail = body?.error?.message ?? (Array.isArray(body?.detail) ? body.detail.map((d) => d.msg).join('; ') : body?.detail);
  if (res.status === 401) return 'Please log in again (your session was not accepted).';
  if (res.status === 429) return `Too many requests; try again in ${res.headers.get('retry-after') ?? 'a few'} seconds.`;
  if (res.status === 503) return `The farm is unavailable right now: ${detail ?? 'queue full or Redis down'}.`;
  return detail ? `Error ${res.status}: ${detail}` : `Error ${res.status}: ${res.statusText}`;
}

async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, { ...options, headers: { 'content-type': 'application/json', ...(options.headers ?? {}) } });
  } catch {
    throw new Error('The server cannot be reached. Check your connection and try again.');
  }
  if (!res.ok) throw new Error(await errorMessage(res));
  return res.json();
}

function fillSelect(select, values, selected) {
  select.replaceChildren(...values.map((v) => new Option(v, v, v === selected, v === selected)));
}

async function loadLists() {
  const [models, samplers, loras] = await Promise.all([api('/v1/models'), api('/v1/samplers'), api('/sdapi/v1/loras')]);
  fillSelect($('model'), models.models, models.default);
  fillSelect($('sampler'), samplers.samplers.map((s) => s.name), 'Euler a');
  fillSelect($('scheduler'), samplers.schedulers.map((s) => s.label), 'Automatic');
  if (loras.length) fillSelect($('lora-name'), loras.map((l) => l.name), loras[0].name);
}

function selectTab(mode) {
  state.mode = mode;
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.id === `tab-${mode}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  $('panel-img2img').hidden = mode !== 'img2img';
}

function setProgress(step, steps, text) {
  const pct = steps ? Math.round((step / steps) * 100) : 0;
  $('progress').setAttribute('aria-valuenow', String(pct));
  $('progress-fill').style.width = `${pct}%`;
  $('status').textContent = text;
}

function requestBody() {
  const num = (id) => Number($(id).value);
  const body = {
    model: $('model').value, prompt: $('prompt').value, negative_prompt: $('negative_prompt').value,
    sampler: $('sampler').value, scheduler: $('scheduler').value, steps: num('steps'), cfg_scale: num('cfg_scale'),
    width: num('width'), height: num('height'), seed: num('seed'), batch_size: num('batch_size'), n_iter: num('n_iter'),
  };
  if ($('cn-enabled').checked) {
    if (!state.controlImage) throw new Error('Choose a control image for ControlNet first.');
    body.controlnet = [{ image: state.controlImage, module: $('cn-module').value, weight: num('cn-weight'), guidance_start: num('cn-start'), guidance_end: num('cn-end'), threshold_a: num('cn-low'), threshold_b: num('cn-high') }];
  }
  if (state.mode === 'img2img') {
    if (!state.initImage) throw new Error('Choose an init image for img2img first.');
    Object.assign(body, { kind: 'img2img', init_image: state.initImage, denoising_strength: num('denoising_strength'), resize_mode: num('resize_mode') });
  }
  return body;
}

function renderResult(job) {
  const seconds = job.metrics?.total_seconds;
  const figures = (job.output?.images ?? []).map((url, i) => {
    const fig = document.createElement('figure');
    const img = new Image();
    img.src = url;
    img.alt = `result ${i + 1} for "${job.input.prompt}"`;
    const caption = document.createElement('figcaption');
    caption.textContent = `${job.output.infotexts[i]}\nTime taken: ${seconds?.toFixed(2)} s`;
    const send = document.createElement('button');
    send.type = 'button';
    send.textContent = 'Send to img2img';
    send.addEventListener('click', async () => {
      const blob = await (await fetch(url)).blob();
      await setInitImage(blob);
      selectTab('img2img');
      $('tab-img2img').focus();
    });
    fig.append(img, caption, send);
    return fig;
  });
  $('results').replaceChildren(...figures);
}

function finish(job) {
  state.source?.close();
  state.source = null;
  state.current = null;
  $('generate').disabled = false;
  $('cancel').disabled = true;
  if (job.status === 'succeeded') {
    state.lastSeed = job.input.seed;
    setProgress(1, 1, `Done in ${job.metrics.total_seconds.toFixed(2)} s`);
    renderResult(job);
  } else if (job.status === 'canceled') {
    setProgress(0, 1, 'Canceled');
  } else {
    setProgress(0, 1, 'Failed');
    showError(`The job failed: ${job.error}`);
  }
  void loadHistory();
}

function watch(job) {
  const source = new EventSource(job.links.events);
  state.source = source;
  source.addEventListener('status', (ev) => {
    const j = JSON.parse(ev.data);
    if (j.status === 'queued') setProgress(0, 1, `Queued${j.queue_position ? ` (position ${j.queue_position})` : ''}`);
    if (j.status === 'running' && j.progress) {
      const eta = j.progress.eta_seconds != null ? `, about ${j.progress.eta_seconds} s left` : '';
      setProgress(j.progress.step, j.progress.steps, `Step ${j.progress.step} of ${j.progress.steps}${eta}`);
    }
    if (['succeeded', 'failed', 'canceled'].includes(j.status)) finish(j);
  });
  source.onerror = () => {
    if (!state.current) return;
    source.close();
    api(`/v1/jobs/${state.current}`).then((j) => (['succeeded', 'failed', 'canceled'].includes(j.status) ? finish(j) : watch(j))).catch((e) => showError(e.message));
  };
}

async function generate(event) {
  event?.preventDefault();
  showError('');
  try {
    const job = await api('/v1/jobs', { method: 'POST', body: JSON.stringify(requestBody()) });
    state.current = job.id;
    $('generate').disabled = true;
    $('cancel').disabled = false;
    setProgress(0, 1, 'Queued');
    watch(job);
  } catch (e) {
    showError(e.message);
  }
}

async function cancel() {
  if (!state.current) return;
  try {
    await api(`/v1/jobs/${state.current}`, { method: 'DELETE' });
    $('status').textContent = 'Canceling…';
  } catch (e) {
    showError(e.message);
  }
}

async function loadHistory() {
  try {
    const page = await api(`/v1/jobs?limit=${HISTORY_PAGE}&offset=${state.historyOffset}`);
    $('history').replaceChildren(...page.jobs.map((j) => {
      const li = document.createElement('li');
      if (j.output?.images?.[0]) {
        const img = new Image();
        img.src = j.output.images[0];
        img.alt = '';
        li.append(img);
      }
      li.append(`${j.status} — ${j.input.prompt || '(empty prompt)'} (${j.input.width}x${j.input.height}, seed ${j.input.seed})`);
      li.dataset.status = j.status;
      return li;
    }));
    const pages = Math.max(1, Math.ceil(page.total / HISTORY_PAGE));
    $('history-page').textContent = `Page ${Math.floor(state.historyOffset / HISTORY_PAGE) + 1} of ${pages}`;
    $('history-prev').disabled = state.historyOffset === 0;
    $('history-next').disabled = state.historyOffset + HISTORY_PAGE >= page.total;
  } catch (e) {
    showError(e.message);
  }
}

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error('That file could not be read.'));
    reader.readAsDataURL(blob);
  });
}

async function previewControlMap() {
  showError('');
  if (!state.controlImage) return showError('Choose a control image first.');
  try {
    const r = await api('/controlnet/detect', { method: 'POST', body: JSON.stringify({
      controlnet_module: $('cn-module').value, controlnet_input_images: [state.controlImage], controlnet_processor_res: 256,
      controlnet_threshold_a: Number($('cn-low').value), controlnet_threshold_b: Number($('cn-high').value),
    }) });
    $('cn-map').src = `data:image/png;base64,${r.images[0]}`;
    $('cn-map').hidden = false;
  } catch (e) {
    showError(e.message);
  }
}

async function setInitImage(blob) {
  const dataUrl = await readAsDataUrl(blob);
  state.initImage = dataUrl;
  $('init-preview').src = dataUrl;
  $('init-preview').hidden = false;
}

function insertLora() {
  const name = $('lora-name').value;
  if (!name) return;
  const tag = `<lora:${name}:${Number($('lora-weight').value)}>`;
  $('prompt').value = `${$('prompt').value.trim()} ${tag}`.trim();
}

$('gen-form').addEventListener('submit', generate);
$('cancel').addEventListener('click', cancel);
$('prompt').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void generate(e); });
$('seed-random').addEventListener('click', () => { $('seed').value = '-1'; });
$('seed-reuse').addEventListener('click', () => { if (state.lastSeed !== null) $('seed').value = String(state.lastSeed); });
$('lora-add').addEventListener('click', insertLora);
$('init-image').addEventListener('change', (e) => { const f = e.target.files?.[0]; if (f) setInitImage(f).catch((err) => showError(err.message)); });
$('cn-image').addEventListener('change', (e) => { const f = e.target.files?.[0]; if (f) readAsDataUrl(f).then((d) => { state.controlImage = d; $('cn-enabled').checked = true; }, (err) => showError(err.message)); });
$('cn-preview').addEventListener('click', () => void previewControlMap());
$('history-prev').addEventListener('click', () => { state.historyOffset = Math.max(0, state.historyOffset - HISTORY_PAGE); void loadHistory(); });
$('history-next').addEventListener('click', () => { state.historyOffset += HISTORY_PAGE; void loadHistory(); });
for (const tab of document.querySelectorAll('[role=tab]')) {
  tab.addEventListener('click', () => selectTab(tab.id.replace('tab-', '')));
  tab.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const next = state.mode === 'txt2img' ? 'img2img' : 'txt2img';
    selectTab(next);
    $(`tab-${next}`).focus();
  });
}

loadLists().then(loadHistory).catch((e) => showError(e.message));
