import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bot, composeBot } from '../../bot/compose.ts';
import { localServiceConfig } from '../../bot/service.ts';
import { PACK_DIR } from '../helpers/pack.ts';
import { clipOf, reserveInput } from '../prisma/fixtures.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const TOKEN = 'charts-test-admin-token-0123456789';
const out = join(new URL('../..', import.meta.url).pathname, 'out');
const CHARTS = ['depth', 'wait', 'throughput', 'gpu-user', 'gpu-workspace', 'busy'].map((c) => `chart-${c}`);

let dir: string;
let bot: Bot;
let browser: Browser;
let url: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is required for the browser tests: apt-get install chromium (or set CHROMIUM_PATH)`);
  dir = await mkdtemp(join(tmpdir(), 'pusa-charts-'));
  bot = await composeBot({
    service: localServiceConfig({
      redisUrl: REDIS_URL,
      prefix: `charts-${process.pid}-${Date.now()}`,
      dir,
      modelDir: PACK_DIR,
    }),
    playground: { host: '127.0.0.1', port: 0, adminToken: TOKEN },
  });
  url = bot.playground?.url as string;
  // Jobs of the last half hour, recorded as a worker would have: one ran and was charged, one failed, one waits.
  const store = bot.service.store;
  const workspace = await store.ensureWorkspace({ platform: 'discord', externalId: 'g-charts', name: 'Charts guild' });
  const user = await store.ensureUser({ platform: 'discord', externalId: 'u-charts', displayName: 'ann' });
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);
  const queue = async (minutes: number) => {
    const reserved = await store.reserve(reserveInput({ workspace, user }, { now: ago(minutes) }));
    if (!reserved.ok) throw new Error(reserved.message);
    return reserved.job.id;
  };
  const ran = await queue(30);
  await store.markRunning(ran, { workerId: 'gpu-a', now: ago(29) });
  await store.complete(ran, { chargedSeconds: 240, clip: clipOf(), now: ago(25) });
  const failed = await queue(20);
  await store.markRunning(failed, { workerId: 'gpu-b', now: ago(19.5) });
  await store.fail(failed, { code: 'WorkerError', message: 'out of memory', now: ago(18) });
  await queue(10);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await bot?.service.generate.obliterate({ force: true }).catch(() => undefined);
  await bot?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the dashboard's charts", () => {
  it('answers the charts to the admin token only, and only for an hour or a day', async () => {
    const get = (query: string, token?: string) =>
      fetch(`${url}/api/admin/charts${query}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

    const anonymous = await get('');
    const wrong = await get('', 'not-the-token-at-all-0000');
    const badWindow = await get('?window=7d', TOKEN);
    const hour = await get('?window=1h', TOKEN);
    const body = (await hour.json()) as { ok: boolean; charts: { t: number[]; gpuByUser: { label: string }[] } };

    expect([anonymous.status, wrong.status]).toEqual([401, 401]);
    expect(badWindow.status).toBe(400);
    expect(await badWindow.json()).toMatchObject({
      ok: false,
      field: 'window',
      error: expect.stringMatching(/1h or 24h/),
    });
    expect(hour.status).toBe(200);
    expect(body.charts.t).toHaveLength(60);
    expect(body.charts.gpuByUser.map((s) => s.label)).toEqual(['ann']);
  });

  it('draws every chart with data in a real browser, hour and day, and saves a screenshot', {
    timeout: 60_000,
  }, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.addInitScript(`localStorage.setItem('pusa-admin-token', ${JSON.stringify(TOKEN)})`);
    const library = await page.request.get(`${url}/vendor/uplot.js`);
    expect(library.status(), 'uplot is not installed: npm install adds it (package.json lists uplot 1.6.32)').toBe(200);
    await page.goto(`${url}/admin`);
    // Each chart's box says it was drawn (uPlot's draw hook), with how many values: no waiting for time.
    const drawn = (window: string) =>
      page.waitForFunction(
        `${JSON.stringify(CHARTS)}.every((id) => document.getElementById(id)?.dataset.drawn === ${JSON.stringify(window)})`,
        undefined,
        { timeout: 30_000 },
      );
    const counts = () =>
      Promise.all(
        CHARTS.map(async (id) => {
          const box = page.locator(`#${id}`);
          return {
            id,
            points: Number(await box.getAttribute('data-points')),
            nonzero: Number(await box.getAttribute('data-nonzero')),
            canvas: await box.locator('canvas').count(),
            label: await box.getAttribute('aria-label'),
          };
        }),
      );

    await drawn('1h');
    const hour = await counts();
    await mkdir(out, { recursive: true });
    const shot = join(out, 'dashboard-charts-1h.png');
    await page.locator('.charts').screenshot({ path: shot });
    console.log(`dashboard charts screenshot: ${shot}`);
    await page.click('#window-24h');
    await drawn('24h');
    const day = await counts();
    await page.locator('.charts').screenshot({ path: join(out, 'dashboard-charts-24h.png') });
    const pressed = await page.locator('#window-24h').getAttribute('aria-pressed');
    await page.close();

    for (const chart of hour) {
      expect(chart.canvas, chart.id).toBe(1);
      expect(chart.points, chart.id).toBeGreaterThan(0);
      expect(chart.nonzero, chart.id).toBeGreaterThan(0);
      expect(chart.label, chart.id).toMatch(/last hour/);
    }
    for (const chart of day) expect(chart.nonzero, chart.id).toBeGreaterThan(0);
    expect(hour.find((c) => c.id === 'chart-busy')?.label).toMatch(/Worker busy share, %/);
    expect(hour.find((c) => c.id === 'chart-gpu-user')?.label).toMatch(/GPU s per 1 min/);
    expect(pressed).toBe('true');
  });
});
