// Prompt styles from STYLES_FILE in A1111's styles.csv format: a header row with name, prompt, negative_prompt and
// RFC 4180 quoting. Read on each use (the file may change), empty when the file does not exist.
import { existsSync, readFileSync } from 'node:fs';
import type { PromptStyle } from '@farm/core';

/** Rows of a CSV text; quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f !== ''));
}

export function parseStyles(text: string): PromptStyle[] {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (!header) return [];
  const col = (name: string) => header.findIndex((h) => h.trim() === name);
  const [n, p, neg] = [col('name'), col('prompt'), col('negative_prompt')];
  if (n < 0) return [];
  return rows
    .filter((r) => (r[n] ?? '').trim() !== '')
    .map((r) => ({ name: r[n].trim(), prompt: p >= 0 ? (r[p] ?? '') : '', negative_prompt: neg >= 0 ? (r[neg] ?? '') : '' }));
}

export function loadStyles(file: string): PromptStyle[] {
  return existsSync(file) ? parseStyles(readFileSync(file, 'utf8')) : [];
}
