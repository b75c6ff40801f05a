// /openapi.json and Swagger UI at /docs (swagger-ui-dist's files, served from this gateway: no CDN, and no inline
// script, so the page works under the gateway's Content-Security-Policy).
import { createRequire } from 'node:module';
import express, { Router } from 'express';
import { openApiDocument } from './document';

const require = createRequire(import.meta.url);
const SWAGGER_DIR: string = (require('swagger-ui-dist') as { getAbsoluteFSPath(): string }).getAbsoluteFSPath();

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sd-render-farm API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="icon" href="/docs/assets/favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

// requests from "Try it out" carry the browser's login (same origin)
const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout', withCredentials: true });`;

export function openApiRouter(): Router {
  const r = Router();
  const doc = openApiDocument();
  r.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  r.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  r.get('/docs/init.js', (_req, res) => {
    res.type('js').send(INIT_JS);
  });
  r.use('/docs/assets', express.static(SWAGGER_DIR, { index: false, maxAge: '1d' }));
  return r;
}
