import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDiscordConfig } from '../../bot/discord/config.ts';
import {
  APP_ID,
  buttonIds,
  type DiscordStack,
  opt,
  PROGRESS_MS,
  resultOf,
  startDiscordStack,
  TOKEN,
} from '../../dev/discord/harness.ts';
import { GUILD_ID, type StoredMessage } from '../../dev/discord/local-discord.ts';

const ada = { id: '700000000000000001', username: 'ada' };
const grace = { id: '700000000000000002', username: 'grace' };
const admin = { id: '700000000000000003', username: 'root', permissions: String(1n << 5n) };
/** Manage Server in this guild, but not an operator of the deployment (DISCORD_OPERATOR_IDS). */
const manager = { id: '700000000000000004', username: 'manager', permissions: String(1n << 5n) };
const STRING = 3;
const INTEGER = 4;
const ATTACHMENT = 11;

let stack: DiscordStack;
beforeAll(async () => {
  stack = await startDiscordStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

/** The ephemeral text an interaction got (an immediate reply, an edited private deferral or a private follow-up). */
function ephemeralText(interactionId: string): string | undefined {
  for (const m of stack.local.messages.values())
    if (m.interactionId === interactionId && (m.flags & 64) !== 0 && m.content !== '' && !m.deleted) return m.content;
  return undefined;
}
const waitEphemeral = (id: string) =>
  stack.local.waitFor(() => ephemeralText(id), `an ephemeral reply to ${id}`, 30_000);
const waitResult = (id: string) => stack.local.waitFor(() => resultOf(stack.local, id), `the clip of ${id}`, 90_000);
const answeredIn = (id: string) => {
  const i = stack.local.interactions.get(id);
  return i?.answeredAt === undefined ? Number.POSITIVE_INFINITY : i.answeredAt - i.dispatchedAt;
};
const t2v = (prompt: string, extra: unknown[] = [], user = ada, sizeLimit?: number) =>
  stack.local.slash(
    't2v',
    [opt('prompt', STRING, prompt), opt('steps', INTEGER, 4), opt('frames', INTEGER, 17), ...extra],
    user,
    sizeLimit === undefined ? {} : { sizeLimit },
  );
const imageOption = (name: string, url: string, contentType: string, size: number) => ({
  option: opt(name, ATTACHMENT, `${name}-att`),
  resolved: {
    [`${name}-att`]: {
      id: `${name}-att`,
      filename: `${name}.png`,
      size,
      url,
      proxy_url: url,
      content_type: contentType,
    },
  },
});

describe('Discord front end against the local Discord', () => {
  it('connects the real discord.js client over the gateway', () => {
    expect(stack.local.identifiedCount()).toBe(1);
    expect(stack.local.requests.some((r) => r.path === '/api/v10/gateway/bot')).toBe(true);
  });

  it('offers the pack sizes on /t2v and refuses a size the pack cannot make', async () => {
    const i = t2v('a red circle moves right on a dark blue background', [opt('size', STRING, '256x256')]);

    expect(await waitEphemeral(i.id)).toMatch(/size must be one of 128x128 for pusa-mini; got 256x256/);
  });

  it('runs /t2v from the deferral to the posted MP4, through a 429 on the first edit', async () => {
    stack.local.rateLimit((method, route) => method === 'PATCH' && route.includes('/messages/@original'), 0.3);

    const i = t2v('a red circle moves right on a dark blue background');
    const queued = await stack.local.waitFor(
      () => (stack.local.original(i)?.components.length ? stack.local.original(i) : undefined),
      'the queued message',
    );
    const result = await waitResult(i.id);

    expect(answeredIn(i.id)).toBeLessThan(3000);
    expect(i.callbackType).toBe(5);
    expect(stack.local.requests.some((r) => r.status === 429)).toBe(true);
    expect(queued.editedAt.length).toBeGreaterThan(0);
    expect(result.attachments[0]?.filename).toMatch(/^pusa-\d+\.mp4$/);
    expect(buttonIds(result).map((id) => id.split(':')[1])).toEqual(['extend', 'reroll', 'remix', 'info', 'delete']);
    expect(result.content).toContain('seed');
  });

  it('shows position, ETA and a Cancel button while queued, and cancels', async () => {
    await stack.service.generate.pause();
    setTimeout(() => void stack.service.generate.resume(), 20_000);
    const i = t2v('a queued clip');
    const queued = await stack.local.waitFor(
      () => (stack.local.original(i)?.content.includes('position') ? stack.local.original(i) : undefined),
      'the queued message',
    );
    expect(queued.content).toMatch(/position \d+ · ETA ~\d+/);
    const cancelId = buttonIds(queued)[0] ?? '';
    expect(cancelId).toMatch(/^v1:cancel:/);

    const press = stack.local.button(queued, cancelId, ada);
    expect(await waitEphemeral(press.id)).toMatch(/Cancel/);
    await stack.local.waitFor(() => queued.content.includes('Cancelled'), 'the cancelled job message');
    await stack.service.generate.resume();
  });

  it('throttles progress edits to the configured interval (2 s by default) and shows the preview', async () => {
    const i = t2v('a slow clip', [opt('steps', INTEGER, 50), opt('frames', INTEGER, 33)]);
    await waitResult(i.id);
    const previews = stack.local.requests.filter(
      (r) => r.path.includes(i.token) && r.files.some((f) => f.name === 'preview.png'),
    );
    expect(previews.length).toBeGreaterThan(0);
    const png = previews[0]?.files.find((f) => f.name === 'preview.png')?.bytes ?? new Uint8Array();
    expect((await sharp(png).metadata()).format).toBe('png');
    const shown = (stack.local.original(i) as StoredMessage).editedAt.length;
    expect(shown).toBeGreaterThan(2);
    const original = stack.local.original(i) as StoredMessage;
    // All edits but the first (queued) and the last (result) are progress edits.
    const progress = original.editedAt.slice(1, -1);
    for (let k = 1; k < progress.length; k++)
      expect((progress[k] ?? 0) - (progress[k - 1] ?? 0)).toBeGreaterThanOrEqual(PROGRESS_MS - 20);
    expect(
      parseDiscordConfig({ DISCORD_TOKEN: 't', DISCORD_APPLICATION_ID: APP_ID }).DISCORD_PROGRESS_INTERVAL_MS,
    ).toBe(2000);
  });

  it('animates an attachment downloaded from the allowed CDN host', async () => {
    const png = await readFile(new URL('../../samples/yellow-star.png', import.meta.url));
    const url = stack.local.serveFile('star.png', png, 'image/png');
    const { option, resolved } = imageOption('image', url, 'image/png', png.length);

    const i = stack.local.slash('animate', [option, opt('frames', INTEGER, 17), opt('motion', STRING, 'low')], ada, {
      resolved: { attachments: resolved },
    });
    const result = await waitResult(i.id);

    expect(answeredIn(i.id)).toBeLessThan(3000);
    expect(result.attachments[0]?.size).toBeGreaterThan(0);
  });

  it.each([
    ['a foreign host', 'https://evil.example.com/x.png', 'image/png', /only taken from Discord's CDN/],
    ['a non-image', 'LOCAL', 'text/plain', /text\/plain file/],
  ])('refuses %s with an ephemeral error and a request id', async (_what, where, type, message) => {
    const url = where === 'LOCAL' ? stack.local.serveFile('notes.txt', Buffer.from('hello'), 'text/plain') : where;
    const { option, resolved } = imageOption('image', url, type, 5);

    const i = stack.local.slash('animate', [option], ada, { resolved: { attachments: resolved } });
    const text = await waitEphemeral(i.id);

    expect(text).toMatch(message);
    expect(text).toMatch(/request [0-9a-f-]{36}/);
  });

  it('answers Info, and Re-roll once for a double click', async () => {
    const first = t2v('a double clicked clip');
    const result = await waitResult(first.id);
    const [, reroll, , info] = buttonIds(result);

    const infoPress = stack.local.button(result, info ?? '', ada);
    expect(await waitEphemeral(infoPress.id)).toMatch(/"seed"/);

    const a = stack.local.button(result, reroll ?? '', ada);
    const b = stack.local.button(result, reroll ?? '', ada);
    const answered = await Promise.race([waitResult(a.id).then(() => a), waitResult(b.id).then(() => b)]);
    const other = answered === a ? b : a;
    expect(await waitEphemeral(other.id)).toMatch(/Already on it/);
    expect(answeredIn(a.id)).toBeLessThan(3000);
    expect(answeredIn(b.id)).toBeLessThan(3000);
    expect(stack.local.requests.filter((r) => r.status === 400).length).toBe(0);
  });

  it('lets only the owner or an admin delete a clip', async () => {
    const i = t2v('a clip to delete');
    const result = await waitResult(i.id);
    const del = buttonIds(result)[4] ?? '';

    expect(await waitEphemeral(stack.local.button(result, del, grace).id)).toMatch(/only the person who made/);
    expect(result.deleted).toBe(false);
    await waitEphemeral(stack.local.button(result, del, ada).id);
    expect(result.deleted).toBe(true);
    const jobId = del.split(':')[2] ?? '';
    expect(await stack.service.store.job(jobId)).toMatchObject({
      status: 'succeeded',
      clip: null,
      deletedAt: expect.any(Date),
    });
  });

  it('extends a clip from the context menu and remixes through the modal', async () => {
    const i = t2v('a clip to extend');
    const result = await waitResult(i.id);

    const menu = stack.local.contextMenu('Extend this clip', result, ada);
    await waitResult(menu.id);

    const remix = stack.local.button(result, buttonIds(result)[2] ?? '', ada);
    await stack.local.waitFor(() => remix.callbackType === 9, 'the Remix modal');
    const submit = stack.local.modalSubmit(
      buttonIds(result)[2] ?? '',
      { prompt: 'a blue circle instead' },
      ada,
      result,
    );
    await waitResult(submit.id);

    const auto = stack.local.autocomplete('extend', [{ name: 'clip', type: STRING, value: '', focused: true }], ada);
    const choices = await stack.local.waitFor(() => auto.autocomplete, 'autocomplete choices');
    expect(choices.length).toBeGreaterThan(0);
  });

  it('finishes a job that outlives its interaction token through the channel', async () => {
    await stack.service.generate.pause();
    const i = t2v('a long clip');
    await stack.local.waitFor(() => stack.local.original(i)?.content.includes('position'), 'the queued message');
    stack.local.expireTokens();
    await stack.service.generate.resume();

    const result = await waitResult(i.id);

    expect(result.id).not.toBe(i.originalId);
    expect(result.referenceId).toBe(i.originalId);
  });

  it('uploads the clip once when the placeholder edit after it fails, and finishes the placeholder on the retry', async () => {
    await stack.service.generate.pause();
    const i = t2v('a clip whose placeholder edit fails');
    await stack.local.waitFor(() => stack.local.original(i)?.content.includes('position'), 'the queued message');
    stack.local.expireTokens();
    const placeholder = i.originalId ?? '';
    // 500 four times: discord.js retries a 5xx three times itself, so the bot sees the edit fail once.
    const isFinishEdit = (method: string, route: string, body: Record<string, unknown>) =>
      method === 'PATCH' && route.endsWith(`/messages/${placeholder}`) && String(body['content']).startsWith('✅');
    stack.local.fail(isFinishEdit, 500, { message: 'Internal Server Error', code: 0 }, undefined, 4);
    await stack.service.generate.resume();

    const original = stack.local.original(i) as StoredMessage;
    await stack.local.waitFor(() => original.content.startsWith('✅ Finished'), 'the finished placeholder', 90_000);

    const refused = stack.local.requests.filter((r) => r.status === 500 && r.path.endsWith(`/messages/${placeholder}`));
    expect(refused).toHaveLength(4);
    const uploads = stack.local.requests.filter(
      (r) =>
        r.method === 'POST' &&
        r.files.some((f) => f.name.endsWith('.mp4')) &&
        ((r.body as Record<string, unknown>)['message_reference'] as { message_id?: string } | undefined)
          ?.message_id === placeholder,
    );
    expect(uploads).toHaveLength(1);
    const replies = [...stack.local.messages.values()].filter((m) => m.referenceId === placeholder && !m.deleted);
    expect(replies).toHaveLength(1);
    expect(original.components).toEqual([]);
  });

  it('posts the result in the channel when its placeholder was deleted', async () => {
    await stack.service.generate.pause();
    const i = t2v('a clip whose placeholder is deleted');
    await stack.local.waitFor(() => stack.local.original(i)?.content.includes('position'), 'the queued message');
    (stack.local.original(i) as StoredMessage).deleted = true;
    await stack.service.generate.resume();

    const reply = await stack.local.waitFor(
      () =>
        [...stack.local.messages.values()].find(
          (m) => m.referenceId === i.originalId && m.attachments.some((a) => a.filename.endsWith('.mp4')),
        ),
      'the result in the channel',
      90_000,
    );

    expect(reply.content).toMatch(/^✅/u);
  });

  it('keeps buttons working after the bot restarts', async () => {
    const i = t2v('a clip before the restart');
    const result = await waitResult(i.id);

    await stack.restart();
    const press = stack.local.button(result, buttonIds(result)[0] ?? '', ada);

    await waitResult(press.id);
    expect(answeredIn(press.id)).toBeLessThan(3000);
  });

  it('fits the clip to a small attachment size limit', async () => {
    const limit = 40_000;
    const i = t2v('a small upload', [opt('frames', INTEGER, 33)], ada, limit);
    const result = await waitResult(i.id);
    expect(result.attachments[0]?.size ?? Infinity).toBeLessThanOrEqual(limit);
  });

  it('answers /quota and /history privately and keeps /admin to admins', async () => {
    expect(await waitEphemeral(stack.local.slash('quota', [], ada).id)).toMatch(/GPU time today/);
    expect(await waitEphemeral(stack.local.slash('history', [], ada).id)).toMatch(/succeeded · t2v/);
    expect(await waitEphemeral(stack.local.slash('admin', [{ name: 'pause', type: 1, options: [] }], ada).id)).toMatch(
      /Manage Server/,
    );
    expect(
      await waitEphemeral(stack.local.slash('admin', [{ name: 'pause', type: 1, options: [] }], admin).id),
    ).toMatch(/paused/);
    expect(await stack.service.generate.isPaused()).toBe(true);
    await waitEphemeral(stack.local.slash('admin', [{ name: 'resume', type: 1, options: [] }], admin).id);
    expect(await stack.service.generate.isPaused()).toBe(false);
    // Manage Server in one guild does not pause the queue every guild shares ([13] finding 6).
    expect(
      await waitEphemeral(stack.local.slash('admin', [{ name: 'pause', type: 1, options: [] }], manager).id),
    ).toMatch(/only its operators may use it \(DISCORD_OPERATOR_IDS\)/);
    expect(await stack.service.generate.isPaused()).toBe(false);
  });

  it('keeps a private request ephemeral to the end', async () => {
    const i = t2v('a private clip', [opt('private', 5, true)]);
    const result = await waitResult(i.id);
    expect(result.flags & 64).toBe(64);
    expect(i.callbackType).toBe(5);
  });

  it('refunds a private clip that outlived its interaction token instead of charging for a clip never shown', async () => {
    await stack.service.generate.pause();
    const i = t2v('a private clip nobody can be shown', [opt('private', 5, true)]);
    await stack.local.waitFor(() => stack.local.original(i)?.content.includes('position'), 'the queued message');
    const user = await stack.service.store.findUser('discord', ada.id);
    const [job] = await stack.service.store.history(user?.id ?? '', { limit: 1 });
    expect(job?.parameters['prompt']).toBe('a private clip nobody can be shown');
    stack.local.expireTokens();
    await stack.service.generate.resume();

    let ended = await stack.service.store.job(job?.id ?? '');
    for (const deadline = Date.now() + 30_000; ended?.status !== 'failed' && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      ended = await stack.service.store.job(job?.id ?? '');
    }

    expect(ended).toMatchObject({ chargedSeconds: 0, clip: null, error: { code: 'DeliveryFailed' } });
    expect(resultOf(stack.local, i.id)).toBeUndefined();
  });

  it('says once that a clip is over the channel upload limit instead of retrying (no 40005 loop)', async () => {
    await stack.service.generate.pause();
    const i = t2v('an upload that does not fit');
    await stack.local.waitFor(() => stack.local.original(i)?.content.includes('position'), 'the queued message');
    stack.local.expireTokens();
    stack.local.setUploadLimit(1000);
    await stack.service.generate.resume();

    const original = stack.local.original(i) as StoredMessage;
    await stack.local.waitFor(() => original.content.includes('upload limit'), 'the too-large notice');
    stack.local.setUploadLimit(10 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 1500));

    const uploads = stack.local.requests.filter((r) => r.status === 413);
    expect(uploads.length).toBe(1);
    expect(original.content).toMatch(/request [0-9a-f-]{36}/);
  });

  it('registers every command with npm run discord:register', async () => {
    await promisify(execFile)('node_modules/.bin/tsx', ['cli/discord-register.ts'], {
      env: {
        ...process.env,
        DISCORD_TOKEN: TOKEN,
        DISCORD_APPLICATION_ID: APP_ID,
        DISCORD_GUILD_ID: GUILD_ID,
        DISCORD_API_URL: stack.local.apiUrl,
      },
    });
    const names = (stack.local.commands.get(GUILD_ID) as { name: string }[]).map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        't2v',
        'animate',
        'keyframes',
        'extend',
        'transition',
        'quota',
        'history',
        'cancel',
        'admin',
        'Animate this image',
        'Extend this clip',
      ]),
    );
  });

  it('runs /keyframes, "Animate this image", /transition and a Re-roll of an image clip', async () => {
    const png = await readFile(new URL('../../samples/green-square-top.png', import.meta.url));
    const url = stack.local.serveFile('top.png', png, 'image/png');
    const images = ['start', 'middle', 'end'].map((name) => imageOption(name, url, 'image/png', png.length));
    const keyframes = stack.local.slash(
      'keyframes',
      [...images.map((x) => x.option), opt('prompt', STRING, 'a green square moves down'), opt('frames', INTEGER, 17)],
      ada,
      { resolved: { attachments: Object.assign({}, ...images.map((x) => x.resolved)) } },
    );
    const menu = stack.local.contextMenu(
      'Animate this image',
      stack.local.userMessage(grace, { filename: 'top.png', url, contentType: 'image/png', size: png.length }),
      grace,
    );
    const [a, b] = await Promise.all([waitResult(keyframes.id), waitResult(menu.id)]);
    const clipOf = (m: StoredMessage) => buttonIds(m)[0]?.split(':')[2] ?? '';

    const transition = stack.local.slash(
      'transition',
      [opt('from', STRING, clipOf(a)), opt('to', STRING, clipOf(a))],
      ada,
    );
    const reroll = stack.local.button(b, buttonIds(b)[1] ?? '', grace);

    await Promise.all([waitResult(transition.id), waitResult(reroll.id)]);
    const job = await stack.service.store.job(buttonIds(b)[1]?.split(':')[2] ?? '');
    expect(job?.task).toBe('i2v');
  });

  it('cancels the newest job with /cancel and offers it in autocomplete', async () => {
    await stack.service.generate.pause();
    try {
      const i = t2v('cancel me with a command');
      await stack.local.waitFor(() => stack.local.original(i)?.content.includes('position'), 'the queued message');
      const auto = stack.local.autocomplete('cancel', [{ name: 'job', type: STRING, value: '', focused: true }], ada);
      const choices = (await stack.local.waitFor(() => auto.autocomplete, 'choices')) as { name: string }[];
      expect(choices.some((c) => c.name.includes('cancel me with a command'))).toBe(true);

      expect(await waitEphemeral(stack.local.slash('cancel', [], ada).id)).toMatch(/Cancelled/);
      await stack.local.waitFor(() => stack.local.original(i)?.content.includes('Cancelled'), 'the cancelled message');
    } finally {
      await stack.service.generate.resume();
    }
  });

  it('lists /history count:10 within 2,000 characters and says what it left out', async () => {
    const lin = { id: '700000000000000009', username: 'lin' };
    const workspace = await stack.service.store.ensureWorkspace({
      platform: 'discord',
      externalId: GUILD_ID,
      name: GUILD_ID,
    });
    await stack.service.store.setWorkspaceLimits(workspace.id, { userMaxQueuedJobs: 10 });
    try {
      // Ten long prompts: each history line carries its id, status, 60 characters of prompt, seed and link.
      const asked = Array.from({ length: 10 }, (_, k) =>
        t2v(`a red circle number ${k} moves slowly right across a wide dark blue background at dusk`, [], lin),
      );
      await Promise.all(asked.map((i) => waitResult(i.id)));

      const text = await waitEphemeral(stack.local.slash('history', [opt('count', INTEGER, 10)], lin).id);

      expect(text.length).toBeLessThanOrEqual(2000);
      const shown = text.split('\n').filter((line) => line.includes('succeeded · t2v'));
      expect(shown.length).toBeGreaterThan(0);
      expect(text).toContain(`-# ${10 - shown.length} more not shown: a Discord message holds 2,000 characters`);
    } finally {
      await stack.service.store.setWorkspaceLimits(workspace.id, { userMaxQueuedJobs: workspace.userMaxQueuedJobs });
    }
  });

  it('pings nobody a prompt names: not @everyone, a role or another member; the requester only on the result', async () => {
    const before = stack.local.pings.length;

    const i = t2v(`@everyone @here <@&800000000000000009> <@${grace.id}> a red circle moves right`);
    const result = await waitResult(i.id);

    const pings = stack.local.pings
      .slice(before)
      .filter((p) => p.messageId === result.id || p.messageId === i.originalId);
    expect(result.content).toContain('@everyone');
    expect(pings.filter((p) => p.everyone || p.roles.length > 0 || p.users.some((u) => u !== ada.id))).toEqual([]);
    expect(pings.filter((p) => p.messageId === result.id).map((p) => p.users)).toEqual([[ada.id]]);
  });

  it('keeps the preview on progress edits through the channel route (after the token), and pings nobody there', async () => {
    await stack.service.generate.pause();
    const before = stack.local.pings.length;
    const i = t2v('@everyone a slow clip after its token', [opt('steps', INTEGER, 50), opt('frames', INTEGER, 33)]);
    await stack.local.waitFor(() => stack.local.original(i)?.content.includes('position'), 'the queued message');
    stack.local.expireTokens();
    await stack.service.generate.resume();

    const result = await waitResult(i.id);

    const channelEdits = stack.local.requests.filter(
      (r) => r.method === 'PATCH' && r.path === `/api/v10/channels/${result.channelId}/messages/${i.originalId}`,
    );
    const withPreview = channelEdits.filter((r) => r.files.some((f) => f.name === 'preview.png'));
    expect(withPreview.length).toBeGreaterThan(0);
    expect(withPreview.flatMap((r) => r.dropped)).toEqual([]);
    expect(stack.local.pings.slice(before).filter((p) => p.everyone)).toEqual([]);
  });

  it('answers gateway heartbeats so the client never reconnects', async () => {
    await stack.local.waitFor(() => stack.local.gatewayStats().heartbeats > 0 || undefined, 'a heartbeat', 5000);
    // One IDENTIFY per bot start: the first and the restart, no reconnects in between.
    expect(stack.local.gatewayStats().identifies).toBe(2);
  });

  it('never leaks the token into logs', () => {
    expect(stack.logs.join('\n')).not.toContain('test-bot-token');
  });
});

describe('who may use a job on Discord ([13] findings 4 and 5)', () => {
  const SECRET = '900000000000000077';
  const history = async (user: { id: string; username: string }) => {
    const internal = await stack.service.store.ensureUser({
      platform: 'discord',
      externalId: user.id,
      displayName: user.username,
    });
    return await stack.service.store.history(internal.id, { limit: 50 });
  };

  it('posts the extension of a private result privately', async () => {
    const i = t2v('a private clip to extend', [opt('private', 5, true)]);
    const result = await waitResult(i.id);
    expect(result.flags & 64).toBe(64);

    const press = stack.local.button(result, buttonIds(result)[0] ?? '', ada);
    const extended = await waitResult(press.id);

    expect(extended.flags & 64).toBe(64);
    expect(press.callbackType).toBe(5);
    expect((stack.local.original(press)?.flags ?? 0) & 64).toBe(64);
  });

  it("refuses Info, Extend, Re-roll, Remix and Delete on someone else's private job, leaking nothing", async () => {
    const i = t2v('a secret prompt nobody else may read', [opt('private', 5, true)]);
    const result = await waitResult(i.id);
    const [extend, reroll, remix, info, del] = buttonIds(result);
    const before = (await history(grace)).length;

    for (const id of [info, extend, reroll, remix]) {
      const press = stack.local.button(result, id ?? '', grace);
      const text = await waitEphemeral(press.id);
      expect(text).toMatch(/private result; only the person who made it can use it/);
      expect(text).not.toContain('secret prompt');
      expect(text).not.toContain('"seed"');
      expect(press.callbackType).not.toBe(9);
    }
    const press = stack.local.button(result, del ?? '', grace);
    expect(await waitEphemeral(press.id)).toMatch(
      /not found among your requests: only the person who made it, or an operator/,
    );

    expect((await history(grace)).length).toBe(before);
    const jobId = (info ?? '').split(':')[2] ?? '';
    expect(await stack.service.store.job(jobId)).toMatchObject({ deletedAt: null, clip: expect.any(Object) });
    expect(stack.local.requests.filter((r) => r.status === 400).length).toBe(0);
  });

  it('shows a public job only in the conversation it was posted in', async () => {
    const i = t2v('a public clip');
    const result = await waitResult(i.id);
    const info = buttonIds(result)[3] ?? '';

    const elsewhere = stack.local.button(result, info, grace, '900000000000000078');
    expect(await waitEphemeral(elsewhere.id)).toMatch(/posted in another conversation/);
    const here = stack.local.button(result, info, grace);
    expect(await waitEphemeral(here.id)).toMatch(/"seed"/);
  });

  it('opens an /extend link only to a member who can read its channel', async () => {
    stack.local.addChannel(SECRET, 'staff', [
      { id: GUILD_ID, type: 0, allow: '0', deny: String(1024) },
      { id: admin.id, type: 1, allow: String(1024 | 65536), deny: '0' },
    ]);
    const posted = stack.local.slash(
      't2v',
      [opt('prompt', STRING, 'a staff-only clip'), opt('steps', INTEGER, 4), opt('frames', INTEGER, 17)],
      admin,
      { channelId: SECRET },
    );
    const result = await waitResult(posted.id);
    expect(result.channelId).toBe(SECRET);
    const link = `https://discord.com/channels/${GUILD_ID}/${SECRET}/${result.id}`;
    const read = () =>
      stack.local.requests.filter(
        (r) => r.method === 'GET' && r.path === `/api/v10/channels/${SECRET}/messages/${result.id}`,
      ).length;

    const refused = stack.local.slash('extend', [opt('clip', STRING, link)], ada);
    expect(await waitEphemeral(refused.id)).toMatch(/you cannot read the channel that link points to/);
    expect(read()).toBe(0);
    expect(resultOf(stack.local, refused.id)).toBeUndefined();

    const allowed = stack.local.slash('extend', [opt('clip', STRING, link)], admin);
    await waitResult(allowed.id);
    expect(read()).toBe(1);
  });
});
