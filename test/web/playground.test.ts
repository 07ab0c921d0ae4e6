import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHub } from '../../bot/core/hub.ts';
import { localServiceConfig, type Service, startService } from '../../bot/service.ts';
import { startPlayground } from '../../bot/web/server.ts';
import { startWorker, type WorkerProcess } from '../../scripts/worker-pool.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const root = new URL('../..', import.meta.url).pathname;
const shots = join(root, 'test-results');

let dir: string;
let service: Service;
let playground: Awaited<ReturnType<typeof startPlayground>>;
let worker: WorkerProcess;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is required for the browser tests: apt-get install chromium (or set CHROMIUM_PATH); not found at ${CHROMIUM}`,
    );
  dir = await mkdtemp(join(tmpdir(), 'pusa-web-'));
  const prefix = `web-${process.pid}-${Date.now()}`;
  const hub = createHub();
  service = await startService(localServiceConfig({ redisUrl: REDIS_URL, prefix, dir, modelDir: PACK_DIR }), {
    deliver: (d) => hub.deliver(d),
    onUpdate: (u) => hub.update(u),
  });
  playground = await startPlayground(service, hub, { host: '127.0.0.1', port: 0 });
  worker = await startWorker('web-worker', { REDIS_URL, QUEUE_PREFIX: prefix, MODEL_DIR: PACK_DIR, LOG_LEVEL: 'warn' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  worker?.child.kill('SIGKILL');
  await playground?.close();
  await service?.generate.obliterate({ force: true }).catch(() => undefined);
  await service?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  page = await browser.newPage();
  await page.goto(playground.url);
});

afterEach(async (context) => {
  if (context.task.result?.state === 'fail') {
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${context.task.name.replace(/\W+/g, '-')}.png`), fullPage: true });
  }
  await page.close();
});

async function send(text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** The video of the newest job card, once it has loaded enough to play. */
async function newestVideo() {
  const video = page.locator('.job video').last();
  await video.waitFor({ timeout: 60_000 });
  // Runs in the page: the newest video has decoded its first frame at the model's size.
  await page.waitForFunction(
    "(() => { const v = [...document.querySelectorAll('.job video')].at(-1); return v !== undefined && v.readyState >= 2 && v.videoWidth === 128; })()",
    undefined,
    { timeout: 30_000 },
  );
  return video;
}

describe('the playground in a real browser', () => {
  it('makes a text-to-video clip with progress, plays it inline, and extends it', async () => {
    await send('/t2v a red circle moves right on a dark blue background --steps 6');

    await expect
      .poll(() => page.locator('.job .status').last().textContent(), { timeout: 60_000 })
      .toMatch(/queued · position \d+ · ETA/);
    await newestVideo();
    await expect
      .poll(() => page.locator('.job .bar > div').last().getAttribute('style'), { timeout: 60_000 })
      .toMatch(/width: 100%/);
    await expect.poll(() => page.locator('#history li').first().textContent(), { timeout: 60_000 }).toContain('t2v');

    await page.locator('.job button[data-action=extend]').last().click();
    await expect.poll(() => page.locator('.job video').count(), { timeout: 60_000 }).toBe(2);
    await newestVideo();
    await expect
      .poll(() => page.locator('.job .status').last().textContent(), { timeout: 60_000 })
      .toMatch(/done · 65 frames/);
  });

  it('animates an uploaded image and keyframes with latent indices', async () => {
    await page.setInputFiles('#files', join(root, 'samples/yellow-star.png'));
    await send('/animate a yellow star moves up on a black background --steps 4');
    await newestVideo();

    await page.setInputFiles('#files', [
      join(root, 'samples/green-square-top.png'),
      join(root, 'samples/green-square-bottom.png'),
    ]);
    const indices = page.locator('#attachments input[type=number]');
    await indices.nth(0).fill('0');
    await indices.nth(0).dispatchEvent('change');
    await indices.nth(1).fill('4');
    await indices.nth(1).dispatchEvent('change');
    await send('/keyframes a green square moves down on a gray background --steps 4 --frames 17');
    await newestVideo();
    await expect
      .poll(() => page.locator('.job .status').last().textContent(), { timeout: 60_000 })
      .toMatch(/done · 17 frames/);
  });

  it('makes start–end frames and a transition between two of its clips', async () => {
    await page.setInputFiles('#files', [
      join(root, 'samples/red-circle-start.png'),
      join(root, 'samples/red-circle-end.png'),
    ]);
    await send('/start-end a red circle moves right on a dark blue background --steps 4 --frames 17');
    await newestVideo();
    await send('/t2v a yellow star moves up on a black background --steps 4 --frames 17');
    await expect.poll(() => page.locator('.job video').count(), { timeout: 60_000 }).toBe(2);
    await newestVideo();
    const clips = (await page.locator('.job .status').allTextContents())
      .map((t) => /clip ([\w-]+)/.exec(t)?.[1])
      .filter((c) => c !== undefined);
    expect(clips).toHaveLength(2);

    await send(
      `/transition ${clips[0]} ${clips[1]} a yellow star moves up on a black background --steps 4 --frames 17`,
    );
    await expect.poll(() => page.locator('.job video').count(), { timeout: 60_000 }).toBe(3);
    await newestVideo();
  });

  it('says what is wrong with a bad command or a bad image, with the request id', async () => {
    await send('/t2v a red circle --steps 500');
    await expect
      .poll(() => page.locator('.message.error').last().textContent(), { timeout: 60_000 })
      .toContain('steps are at most 50');

    await page.setInputFiles('#files', {
      name: 'notes.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('not a picture'),
    });
    await send('/animate a yellow star');
    await expect
      .poll(() => page.locator('.message.error').last().textContent(), { timeout: 60_000 })
      .toMatch(/notes\.jpg: .*not a supported image .*request/);
  });

  it('lets an operator pause the queue, a user cancel a queued job, and the operator resume', async () => {
    const admin = await browser.newPage();
    await admin.goto(`${playground.url}/admin`);
    await admin.click('#pause');
    await expect.poll(() => admin.locator('#paused').textContent(), { timeout: 60_000 }).toBe('(paused)');

    await send('/t2v a blue square moves up on a black background --steps 4');
    await expect
      .poll(() => page.locator('.job .status').last().textContent(), { timeout: 60_000 })
      .toMatch(/queued · position 1/);
    await page.locator('.job button[data-action=cancel]').last().click();
    await expect.poll(() => page.locator('.job .status').last().textContent(), { timeout: 60_000 }).toBe('cancelled');

    await admin.fill('#pattern', 'forbidden');
    await admin.click('#block');
    await expect.poll(() => admin.locator('#blocklist').textContent(), { timeout: 10_000 }).toContain('forbidden');
    await send('/t2v a forbidden circle');
    await expect
      .poll(() => page.locator('.message.error').last().textContent(), { timeout: 10_000 })
      .toMatch(/forbidden/);

    await admin.click('#resume');
    await expect.poll(() => admin.locator('#paused').textContent(), { timeout: 60_000 }).toBe('(running)');
    await expect.poll(() => admin.locator('#workers').textContent(), { timeout: 60_000 }).toContain('web-worker');
    await admin.close();
  });
});

describe('playground safety', () => {
  it('refuses to bind beyond loopback without an admin token', async () => {
    await expect(startPlayground(service, createHub(), { host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /not loopback: set PLAYGROUND_ADMIN_TOKEN/,
    );
  });

  it('demands the admin token on operator endpoints when one is set', async () => {
    const guarded = await startPlayground(service, createHub(), {
      host: '127.0.0.1',
      port: 0,
      adminToken: 'a-long-enough-admin-token',
    });
    try {
      const refused = await fetch(`${guarded.url}/api/admin/pause`, { method: 'POST', body: '{}' });
      const state = await fetch(`${guarded.url}/api/admin/state`, {
        headers: { authorization: 'Bearer a-long-enough-admin-token' },
      });

      expect(refused.status).toBe(401);
      expect(state.status).toBe(200);
      expect(await state.json()).toMatchObject({ paused: false });
    } finally {
      await guarded.close();
    }
  });

  it('refuses a request body over the limit', async () => {
    const small = await startPlayground(service, createHub(), { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 });
    try {
      const res = await fetch(`${small.url}/api/command?user=big`, {
        method: 'POST',
        body: JSON.stringify({ text: '/t2v x', images: [{ data: 'A'.repeat(4096) }] }),
      });

      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ ok: false, error: expect.stringMatching(/larger than/) });
    } finally {
      await small.close();
    }
  });
});
