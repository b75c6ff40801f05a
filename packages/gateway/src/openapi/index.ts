import { Router } from 'express';
import { openApiDocument } from './document';
import { DOCS_HTML } from './docs-page';

export function openApiRouter(): Router {
  const r = Router();
  const doc = openApiDocument();
  r.get('/openapi.json', (_req, res) => { res.json(doc); });
  r.get('/docs', (_req, res) => { res.type('html').send(DOCS_HTML); });
  return r;
}
