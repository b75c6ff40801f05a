// The web page in a real browser (Debian chromium via playwright-core) against gateway + worker processes. One farm and
// one browser for the file; the worker starts only after the first test, which needs a job that stays queued.
import { test, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { startRedis, ensureTinyModel, launchBrowser, type RedisServer } from '@farm/testkit';
import { client, farmEnv, startGatewayProcess, startWorkerProcess, USERS, type FarmEnv, type Proc, waitForWorkers } from './helpers/farm';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let redis: RedisServer;
let farm: FarmEnv;
let gateway: Proc & { url: string };
let worker: Proc | undefined;
let browser: Browser;

beforeAll(async () => {
  redis = await startRedis();
  const { modelsDir } = await ensureTinyModel();
  farm = farmEnv({ redisUrl: redis.url, modelsDir });
  [gateway, browser] = await Promise.all([startGatewayProcess(farm), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await worker?.kill();
  await gateway?.kill();
  await redis?.stop();
});

async function openPage(width = 1280, height = 800, opts: { colorScheme?: 'light' | 'dark'; locale?: string } = {}): Promise<Page> {
  const context = await browser.newContext({
    httpCredentials: { username: 'alice', password: USERS.alice },
    viewport: { width, height },
    colorScheme: opts.colorScheme ?? 'light',
    locale: opts.locale ?? 'en-US',
  });
  // Renders share 2 cores with the rest of the suite; generous waits, still bounded.
  context.setDefaultTimeout(90_000);
  const page = await context.newPage();
  await page.goto(gateway.url);
  await page.locator('body[data-ready=true]').waitFor();
  return page;
}

async function fill(page: Page, values: Record<string, string>) {
  for (const [label, value] of Object.entries(values)) await page.getByLabel(label, { exact: true }).fill(value);
}

/** Clicks Generate and waits for the new job's first image to be shown and decoded. */
async function generateAndWait(page: Page): Promise<void> {
  const before = await page.locator('#main-image').getAttribute('src');
  // filling fields lower down scrolled the page; a person would be back at the prompt when clicking Generate
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.waitForFunction((old) => {
    const img = document.getElementById('main-image') as HTMLImageElement;
    return img.getAttribute('src') && img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0;
  }, before);
}

/** The element's box lies inside the viewport as the page is now, and the page has not scrolled. */
async function assertInView(page: Page, selector: string) {
  const { box, scrollY, vw, vh } = await page.evaluate((sel) => {
    const r = document.querySelector(sel)!.getBoundingClientRect();
    return { box: { top: r.top, left: r.left, bottom: r.bottom, right: r.right }, scrollY: window.scrollY, vw: innerWidth, vh: innerHeight };
  }, selector);
  assert.equal(scrollY, 0, 'the page did not scroll');
  assert.ok(
    box.top >= 0 && box.left >= 0 && box.bottom <= vh && box.right <= vw && box.bottom > box.top,
    `${selector} at ${JSON.stringify(box)} inside ${vw}x${vh}`,
  );
}

test('no worker: a banner says so; a queued job survives a reload and is interrupted after it', async () => {
  const page = await openPage();
  await page.getByRole('status').filter({ hasText: 'No worker is online' }).waitFor();
  await fill(page, { Prompt: 'waits for a worker', Width: '64', Height: '64', 'Sampling steps': '3' });
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.locator('#status', { hasText: 'Queued: position 1' }).waitFor();
  await page.locator('#queue li[data-status=queued]').waitFor();

  await page.reload();
  await page.locator('#status', { hasText: 'Queued: position 1' }).waitFor();
  await page.locator('#queue li[data-status=queued]', { hasText: 'waits for a worker' }).waitFor();
  await page.getByRole('button', { name: 'Interrupt' }).click();
  await page.locator('#status', { hasText: 'Interrupted' }).waitFor();
  await page.locator('#history li[data-status=canceled]').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Interrupt' }).isDisabled(), true);
  // the farm agrees, read independently of the page
  const { body } = await client(gateway.url).get('/v1/jobs');
  assert.deepEqual(
    body.jobs.map((j: { status: string }) => j.status),
    ['canceled'],
  );

  worker = startWorkerProcess(farm);
  await waitForWorkers(gateway.url);
  await page.locator('#banner').waitFor({ state: 'hidden' });
});

test('1280x800: a batch is generated and shown beside the prompt without scrolling; an error shows where the click was', async () => {
  const page = await openPage(1280, 800);
  // a per-user option (A1111's show_progress_every_n_steps): a live preview every step
  await page.getByText('Settings (saved for your account)').click();
  await fill(page, { 'Live preview every N steps': '1' });
  await page.getByLabel('Live preview every N steps').blur();
  await page.locator('#settings-note', { hasText: 'Saved.' }).waitFor();
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { previews: string[] }).previews = seen;
    const img = document.getElementById('live-preview')!;
    new MutationObserver(() => {
      if (!img.hidden) seen.push(img.getAttribute('alt') ?? '');
    }).observe(img, { attributes: true, attributeFilter: ['src', 'hidden'] });
  });
  await fill(page, { Prompt: 'a lighthouse on a cliff', Width: '64', Height: '64', 'Sampling steps': '4', Seed: '42', 'Batch size': '2' });
  await generateAndWait(page);
  const previews = await page.evaluate(() => (window as unknown as { previews: string[] }).previews);
  assert.ok(
    previews.some((alt) => /^Live preview, step [1-3]$/.test(alt)),
    `live previews shown while sampling: ${previews.join('; ')}`,
  );
  await assertInView(page, '#main-image');
  assert.equal(await page.locator('#thumbs button').count(), 2);
  assert.match(await page.locator('#infotext').innerText(), /^a lighthouse on a cliff\nSteps: 4, .*Seed: 42, Size: 64x64/);
  await page.getByRole('button', { name: 'Image 2' }).click();
  assert.match(await page.locator('#infotext').innerText(), /Seed: 43,/);

  await fill(page, { Width: '100' });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const error = page.locator('#gen-error');
  await error.filter({ hasText: 'width must be a multiple of 8' }).waitFor();
  await assertInView(page, '#gen-error');
  const [button, box] = await Promise.all([page.locator('#generate').boundingBox(), error.boundingBox()]);
  assert.ok(Math.abs(box!.y - button!.y) < 60, `the error (y ${box!.y}) is beside Generate (y ${button!.y})`);
  // the old result does not stay on screen as if it were this click's
  assert.equal(await page.locator('#main-button').isHidden(), true);
  assert.equal(await page.locator('#status').innerText(), 'Idle');
  // Skip: only for a running job with batch count > 1; it ends the current iteration, the next still runs
  assert.equal(await page.getByRole('button', { name: 'Skip' }).isDisabled(), true);
  // long enough (60 steps at 128x128) that the click lands while the first iteration runs, even on a loaded machine
  await fill(page, { Width: '128', Height: '128', 'Sampling steps': '60', 'Batch size': '1', 'Batch count': '2' });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.locator('#status', { hasText: /Step \d+ of 60/ }).waitFor();
  await page.getByRole('button', { name: 'Skip' }).click();
  await page.locator('#thumbs button').nth(1).waitFor();
  assert.equal(await page.locator('#gen-error').innerText(), '');
  const { body: done } = await client(gateway.url).get('/v1/jobs?limit=1');
  assert.equal(done.jobs[0].output.images.length, 2);
  const other = await openPage(1280, 800);
  assert.equal(await other.getByLabel('Live preview every N steps').inputValue(), '1', 'the option is stored for the user, not the page');
});

test('hires fix, then inpaint with a drawn mask, then PNG Info back to txt2img', async () => {
  const page = await openPage(1280, 800);
  await fill(page, { Prompt: 'a red barn', Width: '64', Height: '64', 'Sampling steps': '3', Seed: '5' });
  await page.getByText('Hires. fix', { exact: true }).click();
  await page.getByLabel('Enable Hires. fix').check();
  await fill(page, { 'Upscale by': '2', 'Hires steps': '2' });
  assert.equal(await page.locator('#hr-target').innerText(), 'Result: 128x128');
  await generateAndWait(page);
  assert.equal(await page.locator('#main-image').evaluate((img: HTMLImageElement) => img.naturalWidth), 128);
  assert.match(await page.locator('#infotext').innerText(), /Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent/);

  await page.getByRole('button', { name: 'Send to inpaint' }).click();
  await page.locator('#mask-stage').waitFor();
  assert.equal(await page.getByRole('tab', { name: 'Inpaint' }).getAttribute('aria-selected'), 'true');
  // Generate without a mask: refused on the page, next to the button
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.locator('#gen-error', { hasText: 'Draw a mask' }).waitFor();
  const canvas = (await page.locator('#mask-canvas').boundingBox())!;
  await page.mouse.move(canvas.x + canvas.width * 0.25, canvas.y + canvas.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(canvas.x + canvas.width * 0.75, canvas.y + canvas.height * 0.5, { steps: 5 });
  await page.mouse.up();
  await fill(page, { 'Mask blur': '2' });
  await generateAndWait(page);
  assert.equal(await page.locator('#main-image').evaluate((img: HTMLImageElement) => img.naturalWidth), 128);
  assert.match(await page.locator('#infotext').innerText(), /Denoising strength: 0\.75, .*Mask blur: 2/);
  const api = client(gateway.url);
  const { body } = await api.get('/v1/jobs?limit=1');
  assert.equal(body.jobs[0].input.inpaint.has_mask, true);

  // PNG Info: the file the farm wrote, read back, sent to txt2img
  const png = (await api.get(new URL(body.jobs[0].output.images[0], gateway.url).pathname)).body as Buffer;
  await fill(page, { Prompt: 'something else', Seed: '-1', Width: '512' });
  await page.getByRole('tab', { name: 'PNG Info' }).click();
  await page.locator('#pnginfo-file').setInputFiles({ name: 'inpainted.png', mimeType: 'image/png', buffer: png });
  await page.locator('#pnginfo-text', { hasText: 'Mask blur: 2' }).waitFor();
  await page.getByRole('button', { name: 'Send to txt2img' }).click();
  assert.equal(await page.getByRole('tab', { name: 'txt2img' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.getByLabel('Prompt', { exact: true }).inputValue(), 'a red barn');
  assert.equal(await page.getByLabel('Seed', { exact: true }).inputValue(), String(body.jobs[0].output.seeds[0]));
  assert.equal(await page.getByLabel('Width', { exact: true }).inputValue(), '128');
});

test('ControlNet with a canny preview, zoom, then send to img2img and run it', async () => {
  const page = await openPage(1280, 800);
  const drawn = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
    .composite([{ input: { create: { width: 24, height: 24, channels: 3, background: '#fff' } }, left: 20, top: 20 }])
    .png()
    .toBuffer();
  await page.getByText('ControlNet', { exact: true }).click();
  await page.getByLabel('Control image').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: drawn });
  // the file is read asynchronously; the box is ticked once it has been read
  await page.waitForFunction(() => (document.getElementById('cn-enabled') as HTMLInputElement).checked);
  await page.getByRole('button', { name: 'Preview map' }).click();
  await page.getByAltText('ControlNet map preview').waitFor();
  assert.match((await page.getByAltText('ControlNet map preview').getAttribute('src')) ?? '', /^data:image\/png;base64,/);
  await fill(page, { Prompt: 'a house', Width: '64', Height: '64', 'Sampling steps': '3' });
  await generateAndWait(page);
  assert.match(await page.locator('#infotext').innerText(), /ControlNet 0: "Module: canny/);

  await page.locator('#main-button').click();
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'hidden' });

  await page.getByLabel('Enable ControlNet').uncheck();
  await page.getByRole('button', { name: 'Send to img2img' }).click();
  await page.getByAltText('img2img image').waitFor();
  assert.equal(await page.getByRole('tab', { name: 'img2img' }).getAttribute('aria-selected'), 'true');
  await fill(page, { 'Denoising strength': '0.5' });
  await generateAndWait(page);
  assert.match(await page.locator('#infotext').innerText(), /Denoising strength: 0\.5/);
});

test('375x800 phone: generate and see the result without scrolling; no sideways scroll; every field labelled', async () => {
  const page = await openPage(375, 800);
  await fill(page, { Prompt: 'a harbour', Width: '64', Height: '64', 'Sampling steps': '3' });
  await generateAndWait(page);
  await assertInView(page, '#main-image');
  await assertInView(page, '#generate');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px`);
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label'))
      .map((el) => el.id),
  );
  assert.deepEqual(unlabeled, []);
  const narrow = await page.evaluate(() =>
    [...document.querySelectorAll('input:not([type=checkbox]), select')]
      .filter((el) => (el as HTMLElement).offsetParent && el.getBoundingClientRect().width < 60)
      .map((el) => el.id),
  );
  assert.deepEqual(narrow, [], 'every visible field is wide enough to use');
});

test('简体中文: from the browser language or the switch, every marked text translated, kept across reloads', async () => {
  // the page's own module (plain JS for the browser), loaded by URL so the type checker does not follow it
  const i18n = new URL('../packages/gateway/public/i18n.js', import.meta.url).href;
  const { LANGUAGES } = (await import(i18n)) as { LANGUAGES: Record<'en' | 'zh', Record<string, string>> };
  assert.deepEqual(Object.keys(LANGUAGES.zh).sort(), Object.keys(LANGUAGES.en).sort(), 'both languages have every text');
  const zhPage = await openPage(1280, 800, { locale: 'zh-CN' });
  assert.equal(await zhPage.getByRole('button', { name: '生成', exact: true }).isVisible(), true);

  const page = await openPage();
  await page.getByLabel('Language').selectOption('zh');
  for (const label of ['提示词', '反向提示词', '采样方法', '迭代步数', '提示词引导系数', '随机种子'])
    assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, label);
  assert.equal(await page.getByRole('tab', { name: '局部重绘' }).count(), 1);
  assert.equal(await page.getByText('高清修复', { exact: true }).count(), 1);
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  await page.reload();
  await page.locator('body[data-ready=true]').waitFor();
  await page.getByRole('button', { name: '生成', exact: true }).waitFor();
  // dynamic texts too: an error from the page's own check
  await page.getByRole('tab', { name: '局部重绘' }).click();
  await page.getByRole('button', { name: '生成', exact: true }).click();
  assert.equal(await page.locator('#gen-error').innerText(), '请先选择要重绘的图像。');
});

test('axe-core finds no WCAG A/AA failures in light and dark mode; the tabs work from the keyboard', async () => {
  const page = await openPage(1280, 800);
  await fill(page, { Prompt: 'a quiet lake', Width: '64', Height: '64', 'Sampling steps': '2', 'Batch size': '2' });
  await generateAndWait(page);
  await page.locator('#history li[data-status=succeeded]').first().waitFor();
  for (const details of await page.locator('details').all())
    await details.evaluate((d: HTMLDetailsElement) => {
      d.open = true;
    });
  await page.evaluate(axeSource);
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } })
        .axe;
      const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
      return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(violations, [], `${colorScheme} mode`);
  }
  // the dark theme really is another palette (not the light one checked twice)
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(246, 246, 247)');
  await page.getByRole('tab', { name: 'txt2img' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-img2img');
  await page.keyboard.press('End');
  assert.equal(await page.getByRole('tab', { name: 'PNG Info' }).getAttribute('aria-selected'), 'true');
});
