import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCommands } from '../../bot/discord/index.ts';
import { CHANNEL_ID, type LocalDiscord, startLocalDiscord } from '../../dev/discord/local-discord.ts';

const TOKEN = 'stand-in-test-token';
const APP_ID = '900000000000000055';
const ada = { id: '700000000000000001', username: 'ada' };

let local: LocalDiscord;
beforeAll(async () => {
  local = await startLocalDiscord({ token: TOKEN, applicationId: APP_ID });
});
afterAll(async () => {
  await local?.close();
});

/** A REST call as the bot makes it: JSON, or multipart with `payload_json` and `files[n]` when files are given. */
async function call(method: string, route: string, body: unknown, files: { name: string; bytes: Uint8Array }[] = []) {
  const headers: Record<string, string> = { authorization: `Bot ${TOKEN}` };
  let payload: string | FormData;
  if (files.length === 0) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  } else {
    const form = new FormData();
    form.append('payload_json', JSON.stringify(body));
    for (const [i, f] of files.entries())
      form.append(`files[${i}]`, new Blob([f.bytes], { type: 'image/png' }), f.name);
    payload = form;
  }
  const res = await fetch(`${local.apiUrl}/v10${route}`, { method, headers, body: payload });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}
const post = (body: unknown) => call('POST', `/channels/${CHANNEL_ID}/messages`, body);
const button = (custom_id: string, label = 'Go') => ({ type: 2, style: 2, label, custom_id });
const row = (...components: unknown[]) => ({ type: 1, components });
const preview = { name: 'preview.png', bytes: new Uint8Array([137, 80, 78, 71]) };

describe('the local Discord refuses what Discord refuses', () => {
  it('answers content over 2,000 characters with 400 / 50035 and the field that is wrong', async () => {
    const ok = await post({ content: 'x'.repeat(2000) });
    const long = await post({ content: 'x'.repeat(2001) });

    expect(ok.status).toBe(200);
    expect(long).toEqual({
      status: 400,
      body: {
        message: 'Invalid Form Body',
        code: 50035,
        errors: {
          content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] },
        },
      },
    });
  });

  it.each([
    ['a 257-character title', [{ title: 't'.repeat(257) }], 'embeds.0.title'],
    ['a 4,097-character description', [{ description: 'd'.repeat(4097) }], 'embeds.0.description'],
    ['26 fields', [{ fields: Array.from({ length: 26 }, () => ({ name: 'n', value: 'v' })) }], 'embeds.0.fields'],
    ['a 257-character field name', [{ fields: [{ name: 'n'.repeat(257), value: 'v' }] }], 'embeds.0.fields.0.name'],
    [
      'a 1,025-character field value',
      [{ fields: [{ name: 'n', value: 'v'.repeat(1025) }] }],
      'embeds.0.fields.0.value',
    ],
    ['a 2,049-character footer', [{ footer: { text: 'f'.repeat(2049) } }], 'embeds.0.footer.text'],
    ['a 257-character author', [{ author: { name: 'a'.repeat(257) } }], 'embeds.0.author.name'],
    ['11 embeds', Array.from({ length: 11 }, () => ({ title: 't' })), 'embeds'],
    [
      '6,001 characters over two embeds',
      [{ description: 'd'.repeat(4000) }, { description: 'd'.repeat(2001) }],
      'embeds',
    ],
  ])('refuses an embed with %s', async (_what, embeds, path) => {
    const answer = await post({ embeds });

    expect(answer.status).toBe(400);
    expect(answer.body['code']).toBe(50035);
    const node = path.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], answer.body['errors']);
    expect(node).toHaveProperty('_errors');
  });

  it.each([
    ['6 action rows', Array.from({ length: 6 }, (_, r) => row(button(`b${r}`))), 'components'],
    ['6 buttons in a row', [row(...Array.from({ length: 6 }, (_, b) => button(`b${b}`)))], 'components.0.components'],
    ['a 101-character custom_id', [row(button('c'.repeat(101)))], 'components.0.components.0.custom_id'],
    ['an 81-character label', [row(button('b', 'l'.repeat(81)))], 'components.0.components.0.label'],
    ['a custom_id used twice', [row(button('same'), button('same'))], 'components.0.components.1.custom_id'],
  ])('refuses components with %s', async (_what, components, path) => {
    const answer = await post({ content: 'x', components });

    expect(answer.status).toBe(400);
    const node = path.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], answer.body['errors']);
    expect(node).toHaveProperty('_errors');
  });

  it('refuses an empty message (50006) and parse and an id list of the same kind (50035)', async () => {
    expect((await post({ content: '' })).body['code']).toBe(50006);
    expect(
      (await post({ content: 'hi', allowed_mentions: { parse: ['users'], users: [ada.id] } })).body['errors'],
    ).toHaveProperty('allowed_mentions.users._errors');
  });

  it.each<[string, { title?: string; rows?: number; label?: string; value?: string }, string]>([
    ['a 46-character title', { title: 't'.repeat(46) }, 'data.title'],
    ['6 rows', { rows: 6 }, 'data.components'],
    ['a 46-character label', { label: 'l'.repeat(46) }, 'data.components.0.components.0.label'],
    ['a 4,001-character value', { value: 'v'.repeat(4001) }, 'data.components.0.components.0.value'],
  ])('refuses a modal with %s, and the interaction stays unanswered', async (_what, change, path) => {
    const interaction = local.slash('remix', [], ada);
    const input = {
      type: 4,
      custom_id: 'prompt',
      style: 2,
      label: change.label ?? 'New prompt',
      ...(change.value === undefined ? {} : { value: change.value }),
    };
    const data = {
      custom_id: 'v1:remix:job',
      title: change.title ?? 'Remix',
      components: Array.from({ length: change.rows ?? 1 }, () => row(input)),
    };

    const answer = await call('POST', `/interactions/${interaction.id}/${interaction.token}/callback`, {
      type: 9,
      data,
    });

    expect(answer.status).toBe(400);
    const node = path.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], answer.body['errors']);
    expect(node).toHaveProperty('_errors');
    expect(interaction.answeredAt).toBeUndefined();
  });

  it('takes every command the bot registers, /long included, and refuses one over the command limits', async () => {
    const commands = buildCommands({ frameCounts: [17, 21, 25, 29, 33], sizes: [[128, 128]] });
    expect(commands.some((c) => c.name === 'long')).toBe(true);
    const route = `/applications/${APP_ID}/commands`;
    expect((await call('PUT', route, commands)).status).toBe(200);

    const long = commands.find((c) => c.name === 'long') as unknown as { options: Record<string, unknown>[] };
    const broken = [
      { ...long, description: 'x'.repeat(101) },
      { ...long, name: 'Long Video' },
      {
        ...long,
        options: [...long.options, { type: 3, name: 'must', description: 'required after optional', required: true }],
      },
      { ...long, options: Array.from({ length: 26 }, (_, i) => ({ type: 3, name: `o${i}`, description: 'd' })) },
    ];
    for (const [index, command] of broken.entries()) {
      const answer = await call('PUT', route, [command]);
      expect(answer.status, `broken command ${index}`).toBe(400);
      expect(answer.body['code']).toBe(50035);
    }
  });

  it('drops an upload that an edit does not list in `attachments` (API v10), and keeps a listed one', async () => {
    const created = await post({ content: 'progress' });
    const route = `/channels/${CHANNEL_ID}/messages/${String(created.body['id'])}`;

    const unlisted = await call('PATCH', route, { content: 'step 1', attachments: [] }, [preview]);
    const listed = await call('PATCH', route, { content: 'step 2', attachments: [{ id: '0' }] }, [preview]);
    const appended = await call('PATCH', route, { content: 'step 3' }, [preview]);

    expect(unlisted.body['attachments']).toEqual([]);
    expect(local.requests.at(-3)?.dropped).toEqual(['preview.png']);
    expect((listed.body['attachments'] as { filename: string }[]).map((a) => a.filename)).toEqual(['preview.png']);
    expect(local.requests.at(-2)?.dropped).toEqual([]);
    expect((appended.body['attachments'] as unknown[]).length).toBe(2);
  });

  it('notifies whoever the content names unless `allowed_mentions` says otherwise', async () => {
    const before = local.pings.length;
    const content = `@everyone <@&800000000000000009> <@${ada.id}> look`;

    const loud = await post({ content });
    const quiet = await post({ content, allowed_mentions: { parse: [] } });
    const requester = await post({ content, allowed_mentions: { parse: [], users: [ada.id] } });

    const pings = local.pings.slice(before);
    expect(pings.map((p) => p.messageId)).toEqual([loud.body['id'], requester.body['id']]);
    expect(pings[0]).toMatchObject({ everyone: true, roles: ['800000000000000009'], users: [ada.id] });
    expect(pings[1]).toMatchObject({ everyone: false, roles: [], users: [ada.id] });
    expect(quiet.status).toBe(200);
  });
});
