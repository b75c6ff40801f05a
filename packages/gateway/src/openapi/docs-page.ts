// /docs: a small self-contained page (no CDN) that lists the OpenAPI operations and sends requests with your login.
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sd-render-farm API</title>
<style>body{font:15px/1.4 system-ui,sans-serif;max-width:960px;margin:0 auto;padding:1rem}details{border:1px solid #ccc;border-radius:6px;margin:.4rem 0;padding:.4rem .8rem}
summary{cursor:pointer}code{font-weight:600}.m{display:inline-block;min-width:4.5em;font-weight:700}textarea{width:100%;min-height:7em;font-family:monospace}pre{background:#f4f4f4;padding:.5rem;overflow:auto;max-height:24em}</style>
</head><body><h1>sd-render-farm API</h1><p>Operations from <a href="/openapi.json">/openapi.json</a>. Requests are sent with your current login.</p>
<div id="ops">loading…</div>
<script type="module">
const doc = await (await fetch('/openapi.json')).json();
const ops = document.getElementById('ops'); ops.textContent = '';
for (const [path, methods] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(methods)) {
  const d = document.createElement('details');
  const s = document.createElement('summary');
  s.innerHTML = '<span class="m"></span> <code></code> — <span></span>';
  s.children[0].textContent = method.toUpperCase(); s.children[1].textContent = path; s.children[2].textContent = op.summary ?? '';
  const pathInput = document.createElement('input'); pathInput.value = path; pathInput.setAttribute('aria-label', 'path'); pathInput.size = 50;
  const body = document.createElement('textarea'); body.setAttribute('aria-label', 'request body'); body.value = method === 'post' ? '{}' : '';
  const send = document.createElement('button'); send.textContent = 'Send';
  const out = document.createElement('pre');
  send.onclick = async () => {
    const res = await fetch(pathInput.value, { method: method.toUpperCase(), headers: { 'content-type': 'application/json' }, body: method === 'get' || method === 'delete' ? undefined : body.value });
    const text = await res.text(); out.textContent = res.status + '\\n' + text.slice(0, 20000);
  };
  d.append(s, pathInput, ...(method === 'post' ? [body] : []), send, out); ops.append(d);
}
</script></body></html>`;
