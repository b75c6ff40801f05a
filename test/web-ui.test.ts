// The web page in a real browser (Debian chromium via playwright-core) against gateway + worker processes.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { startRedis, ensureTinyModel, launchBrowser, type RedisServer } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, USERS, type Proc, waitForWorkers } from './helpers/farm';

const root = new URL('..', import.meta.url).pathname;
let redis: RedisServer;
let gateway: Proc & { url: string };
let worker: Proc;
let browser: Browser;

before(async () => {
  redis = await startRedis();
  const { modelsDir } = await ensureTinyModel();
  const farm = farmEnv({ redisUrl: redis.url, modelsDir });
  gateway = await startGatewayProcess(farm);
  worker = startWorkerProcess(farm);
  await waitForWorkers(gateway.url);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await worker?.kill();
  await gateway?.kill();
  await redis?.stop();
});

async function openPage(width = 1200): Promise<Page> {
  const context = await browser.newContext({ httpCredentials: { username: 'alice', password: USERS.alice }, viewport: { width, height: 900 } });
  // Renders share 2 cores with the rest of the suite; generous waits, still bounded.
  context.setDefaultTimeout(120_000);
  const page = await context.newPage();
  await page.goto(gateway.url);
  await page.getByLabel('Model').locator('option[value="tiny"]').waitFor({ state: 'attached' });
  // The shared models folder may hold larger models too (benchmarks); these tests use the tiny one.
  await page.getByLabel('Model').selectOption('tiny');
  return page;
}

async function fill(page: Page, values: Record<string, string>) {
  for (const [label, value] of Object.entries(values)) await page.getByLabel(label, { exact: true }).fill(value);
}

test('log in, generate with progress, see the result and its infotext, cancel a second job, see the history', async () => {
  const page = await openPage();
  assert.equal(await page.getByLabel('Sampling steps').inputValue(), '20');
  assert.equal(await page.getByLabel('CFG scale').inputValue(), '7');
  assert.equal(await page.getByLabel('Sampling method').inputValue(), 'Euler a');
  await fill(page, { Prompt: 'a lighthouse on a cliff', Width: '64', Height: '64', 'Sampling steps': '30', Seed: '42' });
  await page.evaluate(() => {
    const bar = document.getElementById('progress')!;
    const seen: number[] = [];
    (window as unknown as { seen: number[] }).seen = seen;
    new MutationObserver(() => seen.push(Number(bar.getAttribute('aria-valuenow')))).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
  });
  await page.getByRole('button', { name: 'Generate' }).click();
  const figure = page.locator('#results figure');
  await figure.waitFor();
  const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
  assert.ok(seen.some((v) => v > 0 && v < 100), `progress moved through intermediate values: ${seen.join(',')}`);
  await assert.doesNotReject(figure.locator('img').evaluate((img: HTMLImageElement) => img.decode()));
  const caption = await figure.locator('figcaption').innerText();
  assert.match(caption, /a lighthouse on a cliff/);
  assert.match(caption, /Seed: 42, Size: 64x64/);
  assert.match(caption, /Time taken: \d+\.\d+ s/);
  mkdirSync(join(root, 'test-output'), { recursive: true });
  await page.screenshot({ path: join(root, 'test-output/web-result.png'), fullPage: true });

  await fill(page, { Prompt: 'a slow one', Width: '256', Height: '256', 'Sampling steps': '150' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForFunction(() => Number(document.getElementById('progress')?.getAttribute('aria-valuenow')) > 0);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByText('Canceled', { exact: true }).waitFor();

  const history = page.locator('#history li');
  await page.waitForFunction(() => document.querySelectorAll('#history li').length === 2);
  assert.deepEqual(await history.evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.status)), ['canceled', 'succeeded']);
});

test('send to img2img, then an img2img run', async () => {
  const page = await openPage();
  await page.waitForFunction(() => document.querySelectorAll('#history li').length > 0);
  await fill(page, { Prompt: 'a harbour', Width: '64', Height: '64', 'Sampling steps': '5' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.locator('#results figure').waitFor();
  await page.getByRole('button', { name: 'Send to img2img' }).click();
  await page.getByAltText('init image preview').waitFor();
  assert.equal(await page.getByRole('tab', { name: 'img2img' }).getAttribute('aria-selected'), 'true');
  await page.getByLabel('Denoising strength').fill('0.5');
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForFunction(() => /Denoising strength: 0.5/.test(document.querySelector('#results figcaption')?.textContent ?? ''));
});

test('ControlNet: upload a control image, preview its canny map, generate with it', async () => {
  const page = await openPage();
  const drawn = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
    .composite([{ input: { create: { width: 24, height: 24, channels: 3, background: '#fff' } }, left: 20, top: 20 }]).png().toBuffer();
  await page.getByLabel('Control image').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: drawn });
  // The file is read asynchronously; the box is ticked once it has been read.
  await page.waitForFunction(() => (document.getElementById('cn-enabled') as HTMLInputElement).checked);
  assert.equal(await page.getByLabel('Enable ControlNet').isChecked(), true);
  await page.getByRole('button', { name: 'Preview map' }).click();
  const map = page.getByAltText('ControlNet map preview');
  await map.waitFor();
  assert.match(await map.getAttribute('src') ?? '', /^data:image\/png;base64,/);
  await fill(page, { Prompt: 'a house', Width: '64', Height: '64', 'Sampling steps': '5' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForFunction(() => /ControlNet 0: "Module: canny/.test(document.querySelector('#results figcaption')?.textContent ?? ''));
});

test('API errors are shown as readable messages', async () => {
  const page = await openPage();
  await fill(page, { Prompt: 'x', Width: '100', Height: '64' });
  await page.getByRole('button', { name: 'Generate' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /width must be a multiple of 8/);
});

test('keyboard: tabs switch with arrow keys; at 375 px there is no horizontal scroll', async () => {
  const page = await openPage(375);
  await page.getByRole('tab', { name: 'txt2img' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'img2img' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-img2img');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px`);
  const unlabeled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')].filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label')).map((el) => el.id));
  assert.deepEqual(unlabeled, []);
});
