import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Bot, composeBot } from '../../bot/compose.ts';
import { createHub } from '../../bot/core/hub.ts';
import { localServiceConfig, type Service } from '../../bot/service.ts';
import { startPlayground } from '../../bot/web/server.ts';
import { startWorker, type WorkerProcess } from '../../scripts/worker-pool.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const root = new URL('../..', import.meta.url).pathname;
const shots = join(root, 'test-results');

let dir: string;
let bot: Bot;
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
  bot = await composeBot({
    service: localServiceConfig({ redisUrl: REDIS_URL, prefix, dir, modelDir: PACK_DIR }),
    playground: { host: '127.0.0.1', port: 0 },
  });
  service = bot.service;
  playground = bot.playground!;
  worker = await startWorker('web-worker', { REDIS_URL, QUEUE_PREFIX: prefix, MODEL_DIR: PACK_DIR, LOG_LEVEL: 'warn' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  worker?.child.kill('SIGKILL');
  await service?.generate.obliterate({ force: true }).catch(() => undefined);
  await bot?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async (context) => {
  page = await browser.newPage();
  // A user of its own per test: the page redraws a user's recent jobs, and each test counts only its own.
  const name = `t${context.task.id.replace(/\W/g, '').slice(-12)}`;
  // Runs in the page before its scripts (a string, as the test's own TypeScript has no DOM types).
  await page.addInitScript(`localStorage.setItem('pusa-user', ${JSON.stringify(name)})`);
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
  // Two jobs back to back, the first of the file (the worker's first run): past the default 60 s on a loaded machine.
  it('makes a text-to-video clip with progress, plays it inline, and extends it', { timeout: 180_000 }, async () => {
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

  it('makes a 12-segment /long from the storyboard form: each segment playable as it lands, then the clip', {
    timeout: 180_000,
  }, async () => {
    const storyboard = Array.from(
      { length: 12 },
      (_, i) => `a red circle moves ${i % 2 === 0 ? 'right' : 'left'} ${i}`,
    );
    await page.fill('#long-text', storyboard.join('\n'));
    await page.fill('#long-frames', '17');
    await page.fill('#long-steps', '1');
    await page.fill('#long-seed', '7');
    await page.click('#long button[type=submit]');

    const card = page.locator('.job').last();
    await expect
      .poll(() => card.locator('.status').textContent(), { timeout: 60_000 })
      .toMatch(/12 segments · 193 frames · seed 7 · |segment \d+ of 12|done/);
    // The final clip, decoded in the page, with every segment's video before it.
    const clip = card.locator('.result video');
    await clip.waitFor({ timeout: 150_000 });
    await expect
      .poll(() => card.locator('.status').textContent(), { timeout: 60_000 })
      .toMatch(/^done · 193 frames · seed 7 · .* · 12 segments$/);
    await page.waitForFunction(
      "(() => { const v = [...document.querySelectorAll('.job .result video')].at(-1); return v !== undefined && v.readyState >= 2 && v.videoWidth === 128; })()",
      undefined,
      { timeout: 30_000 },
    );
    const landed = await card
      .locator('.segments figure')
      .evaluateAll((fs) => fs.map((f) => Number((f as { dataset: { index: string } }).dataset.index)));
    expect(landed.length).toBeGreaterThanOrEqual(11);
    expect(landed).toEqual([...landed].sort((x, y) => x - y));
    expect(await card.locator('.segments figcaption').first().textContent()).toContain(storyboard[0]);
    // A segment plays from the playground's own route.
    const first = String(await card.locator('.segments video').first().getAttribute('src'));
    expect(first).toMatch(/^\/segments\/[\w-]+\/\d+\.mp4$/);
    expect((await fetch(`${playground.url}${first}`)).headers.get('content-type')).toBe('video/mp4');
  });

  it("stops a /long chain from its card's Cancel button and shows the segments made", {
    timeout: 150_000,
  }, async () => {
    await page.fill('#long-text', 'a slow blue square');
    await page.fill('#long-segments', '8');
    await page.fill('#long-frames', '17');
    await page.fill('#long-steps', '30');
    await page.click('#long button[type=submit]');
    const card = page.locator('.job').last();
    await card.locator('.segments figure').first().waitFor({ timeout: 90_000 });
    await card.locator('button[data-action=cancel]').click();
    await expect
      .poll(() => card.locator('.status').textContent(), { timeout: 90_000 })
      .toMatch(/^done · \d+ frames .* · [1-7] of 8 segments \(cancelled\)$/);
  });

  it('refuses a /long from another origin like every state-changing route', async () => {
    const res = await fetch(`${playground.url}/api/long?user=x`, {
      method: 'POST',
      headers: {
        origin: 'https://evil.example',
        'x-csrf-token': playground.csrfToken,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ text: 'a red circle', segments: 2 }),
    });
    expect(res.status).toBe(403);
    const noToken = await fetch(`${playground.url}/api/long?user=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'a red circle', segments: 2 }),
    });
    expect(noToken.status).toBe(403);
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
  it('answers 410 for a clip whose file became a directory, and keeps serving', async () => {
    await send('/t2v a green square moves right on a gray background --steps 2 --frames 17');
    await newestVideo();
    const url = String(await page.locator('.job').last().locator('video').getAttribute('src'));
    const clipId = /\/clips\/([\w-]+)\.mp4$/.exec(url)?.[1] as string;
    const record = await service.store.clip(clipId);
    const file = service.artifacts.absolute(record!.mp4Path);
    await rm(file);
    await mkdir(file);

    const res = await fetch(`${playground.url}${url}`);

    expect(res.status).toBe(410);
    expect(await res.json()).toEqual({ ok: false, error: 'this clip is no longer stored here' });
    expect((await fetch(`${playground.url}/api/session`)).status).toBe(200);
  });

  it('deletes a clip for its owner only: it leaves History and its URL answers 404', async () => {
    await send('/t2v a green square moves left on a gray background --steps 2 --frames 17');
    await newestVideo();
    const card = page.locator('.job').last();
    const jobId = String(await card.getAttribute('data-job'));
    const url = String(await card.locator('video').getAttribute('src'));
    await expect.poll(() => page.locator('#history').innerHTML(), { timeout: 30_000 }).toContain(url);
    expect((await fetch(`${playground.url}${url}`)).status).toBe(200);

    const stranger = await post('/api/action?user=mallory', { action: 'delete', jobId });
    await card.locator('button[data-action=delete]').click();

    expect(stranger).toMatchObject({ ok: false, error: expect.stringMatching(/not found among your requests/) });
    await expect.poll(() => page.locator(`.job[data-job="${jobId}"]`).count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => page.locator('#history').innerHTML(), { timeout: 30_000 }).not.toContain(url);
    expect((await fetch(`${playground.url}${url}`)).status).toBe(404);
    expect(await service.store.job(jobId)).toMatchObject({ status: 'succeeded', clip: null });
    await page.reload();
    await expect.poll(() => page.locator('#quota').textContent(), { timeout: 30_000 }).toMatch(/GPU s left today/);
    expect(await page.locator(`.job[data-job="${jobId}"]`).count()).toBe(0);
    expect(await page.locator('#history li').count()).toBe(0);
  });

  it('restores cards after a reload: a clip keeps its video and buttons, and Extend works on it', async () => {
    await send('/t2v a red circle moves left on a dark blue background --steps 2 --frames 17');
    await newestVideo();
    const jobId = String(await page.locator('.job').last().getAttribute('data-job'));

    await page.reload();

    const restored = page.locator(`.job[data-job="${jobId}"]`);
    await expect.poll(() => restored.locator('.status').textContent(), { timeout: 30_000 }).toMatch(/done · 17 frames/);
    await expect.poll(() => restored.locator('video').count(), { timeout: 30_000 }).toBe(1);
    expect(await restored.locator('button').allTextContents()).toEqual([
      'Extend',
      'Re-roll',
      'Remix',
      'Info',
      'Delete',
    ]);
    await restored.locator('button[data-action=extend]').click();
    await expect.poll(() => page.locator('.job video').count(), { timeout: 60_000 }).toBe(2);
    await newestVideo();
    await expect
      .poll(() => page.locator('.job .status').last().textContent(), { timeout: 60_000 })
      .toMatch(/done · 33 frames/);
  });

  it('restores a queued job after a reload with its position, and it can still be cancelled', async () => {
    await service.generate.pause();
    try {
      await send('/t2v a blue square moves down on a black background --steps 2 --frames 17');
      await expect
        .poll(() => page.locator('.job .status').last().textContent(), { timeout: 30_000 })
        .toMatch(/queued · position 1/);

      await page.reload();

      await expect
        .poll(() => page.locator('.job .status').last().textContent(), { timeout: 30_000 })
        .toMatch(/queued · position 1 · ETA \d+ s/);
      await page.locator('.job button[data-action=cancel]').last().click();
      await expect.poll(() => page.locator('.job .status').last().textContent(), { timeout: 30_000 }).toBe('cancelled');
    } finally {
      await service.generate.resume();
    }
  });

  it('shows a running job with its real step on the dashboard, and a cancelled one as Cancelled, not Failed', async () => {
    const admin = await browser.newPage();
    await admin.goto(`${playground.url}/admin`);
    await send('/t2v a yellow star moves down on a black background --steps 50');
    const card = page.locator('.job').last();
    await expect.poll(() => card.locator('.status').textContent(), { timeout: 60_000 }).toMatch(/step \d+\/50/);
    const jobId = String(await card.getAttribute('data-job'));

    await expect
      .poll(() => admin.locator('#workers').textContent(), { timeout: 30_000 })
      .toMatch(new RegExp(`running ${jobId} \\(step \\d+/50\\)`));
    await card.locator('button[data-action=cancel]').click();

    await expect.poll(() => card.locator('.status').textContent(), { timeout: 60_000 }).toBe('cancelled');
    await expect.poll(() => admin.locator('#cancelled').textContent(), { timeout: 30_000 }).toContain(jobId);
    expect(await admin.locator('#failed').textContent()).not.toContain(jobId);
    expect(await admin.locator('#failed button').count()).toBe(0);
    await admin.close();
  });

  it('shows a refused limit in the dashboard and keeps what the operator typed', async () => {
    const admin = await browser.newPage();
    await admin.goto(`${playground.url}/admin`);
    await expect.poll(() => admin.locator('#daily').inputValue(), { timeout: 30_000 }).toMatch(/^\d+$/);

    await admin.fill('#daily', '-5');
    await admin.click('#limits');

    await expect
      .poll(() => admin.locator('#limitsaid').textContent(), { timeout: 30_000 })
      .toMatch(/GPU seconds per user per day must be at least 1 second/);
    expect(await admin.locator('#limitsaid').getAttribute('class')).toContain('bad');
    expect(await admin.locator('#daily').inputValue()).toBe('-5');
    await admin.fill('#daily', '900');
    await admin.click('#limits');
    await expect.poll(() => admin.locator('#limitsaid').textContent(), { timeout: 30_000 }).toBe('saved');
    await expect
      .poll(() => admin.locator('#clip').textContent(), { timeout: 30_000 })
      .toMatch(/900 s is about \d+ clips/);
    await admin.fill('#daily', '600');
    await admin.click('#limits');
    await expect.poll(() => admin.locator('#limitsaid').textContent(), { timeout: 30_000 }).toBe('saved');
    await admin.close();
  });
});

/** A same-origin POST as the page makes it, with the server's CSRF token. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${playground.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': playground.csrfToken, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, ...((await res.json()) as Record<string, unknown>) };
}

/** A raw request, so the Host header can be set (fetch always sends the URL's). */
function rawPost(path: string, headers: Record<string, string>, body: string) {
  const { port } = new URL(playground.url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Re-roll and Remix in the playground, as on every front end', () => {
  it('re-rolls and remixes an /animate result with the image it was made from', async () => {
    const idOf = (answer: object) => String((answer as Record<string, unknown>)['jobId']);
    const star = await readFile(join(root, 'samples/yellow-star.png'));
    const made = await post('/api/command?user=remaker', {
      text: '/animate a yellow star moves up --steps 2 --frames 17 --seed 5',
      images: [{ name: 'star.png', data: star.toString('base64') }],
    });

    const reroll = await post('/api/action?user=remaker', { action: 'reroll', jobId: idOf(made) });
    const remix = await post('/api/action?user=remaker', {
      action: 'remix',
      jobId: idOf(made),
      prompt: 'a yellow star moves down',
    });
    const stranger = await post('/api/action?user=mallory', { action: 'reroll', jobId: idOf(made) });

    expect(made).toMatchObject({ ok: true });
    expect(reroll).toMatchObject({ ok: true, jobId: expect.any(String) });
    expect(remix).toMatchObject({ ok: true, jobId: expect.any(String) });
    const rerolled = await service.store.job(idOf(reroll));
    const remixed = await service.store.job(idOf(remix));
    expect(rerolled).toMatchObject({
      task: 'i2v',
      parameters: { prompt: 'a yellow star moves up', steps: 2, frames: 17 },
    });
    expect((rerolled?.parameters['images'] as unknown[] | undefined)?.length).toBe(1);
    expect(rerolled?.parameters['seed']).not.toBe(5);
    expect(remixed).toMatchObject({ task: 'i2v', parameters: { prompt: 'a yellow star moves down', seed: 5 } });
    expect(stranger).toMatchObject({ ok: false, error: expect.stringMatching(/another conversation/) });
  });
});

describe('the operator dashboard API', () => {
  it.each([
    [{ userDailyGpuSeconds: -1 }, /GPU seconds per user per day must be at least 1/],
    [{ userMaxQueuedJobs: 0 }, /at least 1: with 0 nobody in the workspace could queue a job/],
    [{ userDailyGpuSeconds: 1.5 }, /whole seconds/],
    [{ dailyBudgetSeconds: 'lots' }, /workspace budget must be a number/],
    [{ userDailyGpuSeconds: 60, typo: 1 }, /unknown field typo/],
    [{}, /no limit given/],
  ])('refuses limits %j with 400 and says why, changing nothing', async (limits, message) => {
    const before = await service.store.ensureWorkspace({
      platform: 'local',
      externalId: 'playground',
      name: 'playground',
    });

    const answer = await post('/api/admin/limits', { workspaceId: before.id, ...limits });

    expect(answer).toMatchObject({ status: 400, ok: false, error: expect.stringMatching(message) });
    expect(await service.store.workspace(before.id)).toEqual(before);
  });

  it.each([
    ['ban', { user: '' }, /type the user to ban/],
    ['ban', { user: '   ' }, /type the user to ban/],
    ['block', { pattern: '' }, /type a word or a regular expression/],
  ])('refuses %s %j with 400', async (action, body, message) => {
    const workspace = await service.store.ensureWorkspace({
      platform: 'local',
      externalId: 'playground',
      name: 'playground',
    });

    const answer = await post(`/api/admin/${action}`, { workspaceId: workspace.id, ...body });

    expect(answer).toMatchObject({ status: 400, ok: false, error: expect.stringMatching(message) });
  });

  it('manages a Discord server and a Slack workspace: limits, blocklist and bans through the store', async () => {
    const stamp = Date.now();
    const guild = await service.store.ensureWorkspace({ platform: 'discord', externalId: `g-${stamp}`, name: 'Guild' });
    const team = await service.store.ensureWorkspace({ platform: 'slack', externalId: `T${stamp}`, name: 'Team' });
    const member = await service.store.ensureUser({
      platform: 'discord',
      externalId: `u-${stamp}`,
      displayName: 'Ada',
    });

    const listed = (await fetch(`${playground.url}/api/admin/state?workspace=${guild.id}`).then((r) => r.json())) as {
      workspace: unknown;
      workspaces: { id: string }[];
    };
    const limits = await post('/api/admin/limits', {
      workspaceId: guild.id,
      userDailyGpuSeconds: 1200,
      userMaxQueuedJobs: 2,
    });
    const rule = await post('/api/admin/block', { workspaceId: team.id, pattern: 'teamonly' });
    const ban = await post('/api/admin/ban', { workspaceId: guild.id, user: member.externalId, reason: 'spam' });
    const unknown = await post('/api/admin/unban', { workspaceId: team.id, user: 'U-never-seen' });

    expect(listed.workspace).toMatchObject({ id: guild.id, platform: 'discord', name: 'Guild' });
    expect(listed.workspaces.map((w) => w.id)).toEqual(expect.arrayContaining([guild.id, team.id]));
    expect(limits).toMatchObject({ status: 200, ok: true });
    expect(await service.store.workspace(guild.id)).toMatchObject({ userDailyGpuSeconds: 1200, userMaxQueuedJobs: 2 });
    expect(await service.store.workspace(team.id)).toMatchObject({ userDailyGpuSeconds: 600 });
    expect(rule).toMatchObject({ status: 200, ok: true });
    expect((await service.store.listBlockRules(team.id)).map((r) => r.pattern)).toEqual(['teamonly']);
    expect(await service.store.listBlockRules(guild.id)).toEqual([]);
    expect(ban).toMatchObject({ status: 200, ok: true });
    expect(await service.store.findUser('discord', member.externalId)).toMatchObject({
      banned: true,
      banReason: 'spam',
      displayName: 'Ada',
    });
    expect(unknown).toMatchObject({
      status: 404,
      ok: false,
      error: expect.stringMatching(/no slack user U-never-seen/),
    });
  });
});

describe('web-route security', () => {
  const body = JSON.stringify({ text: '/quota' });

  it('accepts a same-origin POST with the CSRF token', async () => {
    const { port } = new URL(playground.url);

    const answer = await rawPost(
      '/api/command?user=sec',
      {
        host: `127.0.0.1:${port}`,
        origin: playground.url,
        'sec-fetch-site': 'same-origin',
        'x-csrf-token': playground.csrfToken,
      },
      body,
    );

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ ok: true, quota: { limitSeconds: expect.any(Number) } });
  });

  it.each([
    ['no CSRF token', { 'x-csrf-token': '' }, /CSRF token/],
    ['a wrong CSRF token', { 'x-csrf-token': 'guess' }, /CSRF token/],
    ['another origin', { origin: 'https://evil.example' }, /requests from https:\/\/evil.example are not accepted/],
    ['a cross-site fetch', { 'sec-fetch-site': 'cross-site' }, /cross-site requests are not accepted/],
    ['a DNS-rebound host name', { host: 'evil.example:80' }, /answers only at 127\.0\.0\.1:\d+/],
  ])('refuses a POST with %s (403), before reading it', async (_what, headers: Record<string, string>, message) => {
    const { port } = new URL(playground.url);
    const base = { host: `127.0.0.1:${port}`, 'x-csrf-token': playground.csrfToken };

    // An empty value leaves the header out.
    const sent = Object.fromEntries(Object.entries({ ...base, ...headers }).filter(([, value]) => value !== ''));

    const answer = await rawPost('/api/admin/pause', sent, '{}');

    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ ok: false, error: expect.stringMatching(message) });
    expect(await service.generate.isPaused()).toBe(false);
  });

  it('hands the CSRF token only to same-origin readers (no CORS headers)', async () => {
    const res = await fetch(`${playground.url}/api/session`, { headers: { origin: 'https://evil.example' } });

    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await res.json()).toEqual({ csrfToken: playground.csrfToken });
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
      const refused = await fetch(`${guarded.url}/api/admin/pause`, {
        method: 'POST',
        headers: { 'x-csrf-token': guarded.csrfToken },
        body: '{}',
      });
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
        headers: { 'x-csrf-token': small.csrfToken },
        body: JSON.stringify({ text: '/t2v x', images: [{ data: 'A'.repeat(4096) }] }),
      });

      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ ok: false, error: expect.stringMatching(/larger than/) });
    } finally {
      await small.close();
    }
  });
});
