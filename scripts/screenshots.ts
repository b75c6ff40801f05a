// Screenshots of the web page's main views for the README: starts a farm (Redis, the tiny model, gateway, worker),
// drives Debian's chromium and writes PNGs to docs/screenshots/. `npm run screenshots`; `-- --serve` only starts the
// farm and prints its URL (log in as alice / alice-password), for trying the page by hand.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startRedis, ensureTinyModel, launchBrowser } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, waitForWorkers, USERS } from '../test/helpers/farm';

const root = new URL('..', import.meta.url).pathname;
const outDir = join(root, 'docs/screenshots');

const redis = await startRedis();
const { modelsDir } = await ensureTinyModel();
const farm = farmEnv({ redisUrl: redis.url, modelsDir });
const gateway = await startGatewayProcess(farm);
const worker = startWorkerProcess(farm);
await waitForWorkers(gateway.url);

if (process.argv.includes('--serve')) {
  console.log(`farm at ${gateway.url} (alice / ${USERS.alice}); Ctrl+C stops it`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
} else {
  mkdirSync(outDir, { recursive: true });
  const browser = await launchBrowser();
  try {
    const open = async (width: number, height: number, opts: { colorScheme?: 'light' | 'dark'; locale?: string } = {}): Promise<Page> => {
      const context = await browser.newContext({
        httpCredentials: { username: 'alice', password: USERS.alice },
        viewport: { width, height },
        colorScheme: opts.colorScheme ?? 'light',
        locale: opts.locale ?? 'en-US',
      });
      context.setDefaultTimeout(120_000);
      const page = await context.newPage();
      await page.goto(gateway.url);
      await page.locator('body[data-ready=true]').waitFor();
      return page;
    };
    const generate = async (page: Page, values: Record<string, string>) => {
      for (const [id, value] of Object.entries(values)) await page.locator(`#${id}`).fill(value);
      const before = await page.locator('#history li[data-status=succeeded]').count();
      await page.locator('#generate').click();
      await page.locator('#main-image[src]').waitFor();
      await page.waitForFunction((n) => document.querySelectorAll('#history li[data-status=succeeded]').length > n, before);
    };
    // filling fields lower down scrolls; each view is shown from the top, as it opens
    const shot = async (page: Page, name: string, top = true) => {
      if (top) await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(outDir, `${name}.png`) });
    };

    const page = await open(1280, 800);
    await generate(page, {
      prompt: 'a lighthouse on a cliff at sunset',
      negative_prompt: 'blurry',
      width: '64',
      height: '64',
      steps: '8',
      batch_size: '4',
      seed: '7',
    });
    await shot(page, 'txt2img');
    await page.locator('#send-inpaint').click();
    await page.locator('#mask-stage').waitFor();
    const box = (await page.locator('#mask-canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 8 });
    await page.mouse.up();
    await page.locator('#inpaint-input').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await shot(page, 'inpaint', false);

    const dark = await open(1280, 800, { colorScheme: 'dark', locale: 'zh-CN' });
    await generate(dark, { prompt: '悬崖上的灯塔', width: '64', height: '64', steps: '8', seed: '11' });
    await shot(dark, 'txt2img-zh-dark');

    const phone = await open(375, 800);
    await generate(phone, { prompt: 'a harbour at night', width: '64', height: '64', steps: '8', seed: '3' });
    await shot(phone, 'phone');

    await page.locator('#tab-pnginfo').click();
    const png = await page.evaluate(async () => {
      const src = (document.getElementById('main-image') as HTMLImageElement).src;
      const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
      return Array.from(bytes);
    });
    await page.locator('#pnginfo-file').setInputFiles({ name: 'result.png', mimeType: 'image/png', buffer: Buffer.from(png) });
    await page.locator('#pnginfo-send:enabled').waitFor();
    await shot(page, 'png-info');

    await page.locator('#tab-extras').click();
    await page.locator('#extras-image').setInputFiles({ name: 'result.png', mimeType: 'image/png', buffer: Buffer.from(png) });
    await page.locator('#extras-upscaler').selectOption('Lanczos');
    await page.locator('#extras-run').click();
    await page.locator('#extras-result:visible, #extras-error:not(:empty)').first().waitFor();
    await shot(page, 'extras');
    console.log(`screenshots written to ${outDir}`);
  } finally {
    await browser.close();
  }
}
await worker.kill();
await gateway.kill();
await redis.stop();
