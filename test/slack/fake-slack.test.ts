import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT_TOKEN, type FakeSlack, startFakeSlack } from '../../dev/slack/fake-slack.ts';

let fake: FakeSlack;
beforeAll(async () => {
  fake = await startFakeSlack();
});
afterAll(async () => {
  await fake?.close();
});

/** A Web API call as WebClient makes it: form-encoded, objects as JSON strings, the bot token in the header. */
async function call(method: string, args: Record<string, unknown>) {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(args))
    form.set(key, typeof value === 'string' ? value : JSON.stringify(value));
  const res = await fetch(`${fake.apiUrl}${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  return (await res.json()) as { ok: boolean; error?: string; ts?: string; response_metadata?: { messages: string[] } };
}
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const actions = (button: Record<string, unknown>) => ({
  type: 'actions',
  elements: [{ type: 'button', action_id: 'a', text: { type: 'plain_text', text: 'Go' }, value: 'v', ...button }],
});
const view = (change: Record<string, unknown>) => ({
  type: 'modal',
  callback_id: 'v1:x',
  title: { type: 'plain_text', text: 'Remix' },
  blocks: [],
  ...change,
});

describe('the local Slack refuses what Slack refuses', () => {
  it.each([
    ['51 blocks', Array.from({ length: 51 }, () => section('x')), '/blocks'],
    ['a 3,001-character section', [section('x'.repeat(3001))], '/blocks/0/text/text'],
    ['a 76-character button', [actions({ text: { type: 'plain_text', text: 'b'.repeat(76) } })], '/elements/0/text'],
    ['a 256-character action_id', [actions({ action_id: 'a'.repeat(256) })], '/elements/0/action_id'],
    ['a 2,001-character value', [actions({ value: 'v'.repeat(2001) })], '/elements/0/value'],
    ['26 buttons in one block', [{ type: 'actions', elements: Array.from({ length: 26 }, () => ({})) }], '/elements'],
  ])('answers invalid_blocks for %s', async (_what, blocks, pointer) => {
    const answer = await call('chat.postMessage', { channel: 'C1', text: 'x', blocks });

    expect(answer).toMatchObject({ ok: false, error: 'invalid_blocks' });
    expect(answer.response_metadata?.messages.join('\n')).toContain(pointer);
  });

  it.each([
    ['a 25-character title', view({ title: { type: 'plain_text', text: 't'.repeat(25) } }), '/view/title'],
    ['a 25-character submit', view({ submit: { type: 'plain_text', text: 's'.repeat(25) } }), '/view/submit'],
    ['3,001 characters of private_metadata', view({ private_metadata: 'm'.repeat(3001) }), '/view/private_metadata'],
    ['101 blocks', view({ blocks: Array.from({ length: 101 }, () => section('x')) }), '/view/blocks'],
  ])('answers views.open invalid_arguments for %s', async (_what, modal, pointer) => {
    const answer = await call('views.open', { trigger_id: 't', view: modal });

    expect(answer).toMatchObject({ ok: false, error: 'invalid_arguments' });
    expect(answer.response_metadata?.messages.join('\n')).toContain(pointer);
  });

  it.each([
    [
      'a file_input of 11 files',
      view({
        submit: { type: 'plain_text', text: 'Go' },
        blocks: [
          {
            type: 'input',
            label: { type: 'plain_text', text: 'Images' },
            element: { type: 'file_input', action_id: 'f', max_files: 11 },
          },
        ],
      }),
      '/view/blocks/0/element/max_files',
    ],
    [
      'an input without a submit button',
      view({
        blocks: [
          {
            type: 'input',
            label: { type: 'plain_text', text: 'Prompt' },
            element: { type: 'plain_text_input', action_id: 't' },
          },
        ],
      }),
      '/view/submit',
    ],
  ])('answers views.open invalid_arguments for %s', async (_what, modal, pointer) => {
    const answer = await call('views.open', { trigger_id: `trig-${Date.now()}-limits`, view: modal });

    expect(answer).toMatchObject({ ok: false, error: 'invalid_arguments' });
    expect(answer.response_metadata?.messages.join('\n')).toContain(pointer);
  });

  it('opens one view per trigger_id, and none from a trigger older than 3 s', async () => {
    const fresh = `trig-${Date.now()}-once`;
    const stale = `trig-${Date.now() - 3_500}-late`;

    const first = await call('views.open', { trigger_id: fresh, view: view({}) });
    const again = await call('views.open', { trigger_id: fresh, view: view({}) });
    const late = await call('views.open', { trigger_id: stale, view: view({}) });

    expect(first.ok).toBe(true);
    expect(again).toMatchObject({ ok: false, error: 'exchanged_trigger_id' });
    expect(late).toMatchObject({ ok: false, error: 'expired_trigger_id' });
  });

  it('takes 5 answers on one response_url and refuses the sixth with used_url', async () => {
    const url = fake.responseUrl('five-uses');
    const post = () =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post()).status);

    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
    expect(fake.responses.filter((r) => r.id === 'five-uses')).toHaveLength(5);
  });

  it('truncates message text at 40,000 characters, as Slack does', async () => {
    const answer = await call('chat.postMessage', { channel: 'C1', text: 'y'.repeat(40_010) });

    expect(answer.ok).toBe(true);
    expect(fake.messages.get(answer.ts ?? '')?.text.length).toBe(40_000);
  });

  it('answers not_in_channel in a channel the bot was not added to, and still reaches users directly', async () => {
    fake.setChannels(['C1']);
    try {
      const up = (await call('files.getUploadURLExternal', { filename: 'a.mp4', length: '1' })) as { file_id?: string };

      expect(await call('chat.postMessage', { channel: 'C9', text: 'hi' })).toEqual({
        ok: false,
        error: 'not_in_channel',
      });
      expect((await call('chat.postEphemeral', { channel: 'C9', user: 'U1', text: 'hi' })).error).toBe(
        'not_in_channel',
      );
      expect(
        (await call('files.completeUploadExternal', { channel_id: 'C9', files: [{ id: up.file_id }] })).error,
      ).toBe('not_in_channel');
      expect((await call('chat.postMessage', { channel: 'C1', text: 'hi' })).ok).toBe(true);
      expect((await call('chat.postMessage', { channel: 'U1', text: 'hi' })).ok).toBe(true);
    } finally {
      fake.setChannels(undefined);
    }
  });

  it('keeps what a posted text would notify or disguise', async () => {
    const before = fake.specials.length;

    await call('chat.postMessage', { channel: 'C1', text: '<!channel> see <https://evil.example|docs.example.com>' });
    await call('chat.postMessage', { channel: 'C1', text: '&lt;!channel&gt; see &lt;https://evil.example|x&gt;' });

    expect(fake.specials.slice(before)).toEqual([
      expect.objectContaining({
        mentions: ['!channel'],
        disguisedLinks: ['<https://evil.example|docs.example.com>'],
      }),
    ]);
  });
});
