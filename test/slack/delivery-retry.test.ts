import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slashCommand } from '../../dev/slack/fake-slack.ts';
import { type SlackStack, startSlackStack } from '../../dev/slack/harness.ts';
import { clipValueOf, placeholderAfter } from './follow-jobs.ts';

/**
 * A Slack delivery whose result edit fails is retried by the delivery queue ([13] finding 13): the clip is uploaded
 * once per job however often that happens, and a deleted placeholder gets the result as a new message in its thread.
 */
describe('Slack delivery retried (local Slack, real Redis, SQLite and a pusa-mini worker)', () => {
  let stack: SlackStack;
  beforeAll(async () => {
    stack = await startSlackStack();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  /** Sends /t2v and returns its placeholder's ts once posted. */
  const t2v = (text: string) => placeholderAfter(stack, () => stack.command(slashCommand('/t2v', text)));
  const delivered = () => stack.log.filter((l) => l.startsWith('slack delivered ')).length;
  const sharedInto = (ts: string) => [...stack.fake.uploads.entries()].filter(([, u]) => u.threadTs === ts);
  const fileIdOf = (blocks: unknown[]) => clipValueOf(blocks).fileId;

  it('uploads the clip once when the result edit fails and the delivery is retried', async () => {
    stack.fake.refuse('chat.update', 2, 'internal_error', (args) => String(args['text']).startsWith('✅'));
    const before = delivered();

    const ts = await t2v('a green square moves down --steps 4 --frames 17');

    await stack.fake.waitFor(() => delivered() > before, 'the delivery to finish', 90_000);
    const results = stack.fake
      .callsOf('chat.update')
      .filter((c) => c.args['ts'] === ts && /^✅/u.test(String(c.args['text'])));
    expect(results.map((c) => c.result?.['ok'])).toEqual([false, false, true]);
    const uploads = sharedInto(ts);
    expect(uploads).toHaveLength(1);
    const message = stack.fake.messages.get(ts)!;
    expect(message.text).toMatch(/^✅/u);
    expect(fileIdOf(message.blocks)).toBe(uploads[0]![0]);
  });

  it('reuses the upload after a bot restart between the attempts', async () => {
    stack.fake.refuse('chat.update', 1, 'internal_error', (args) => String(args['text']).startsWith('✅'));
    const refusedBefore = stack.fake.callsOf('chat.update').filter((c) => c.result?.['ok'] === false).length;
    const ts = await t2v('a blue triangle moves up --steps 4 --frames 17');
    await stack.fake.waitFor(
      () => stack.fake.callsOf('chat.update').filter((c) => c.result?.['ok'] === false).length > refusedBefore,
      'the refused result edit',
    );

    await stack.restartSlack();

    await stack.fake.waitFor(() => stack.fake.messages.get(ts)?.text.startsWith('✅') === true, 'the result', 90_000);
    const uploads = sharedInto(ts);
    expect(uploads).toHaveLength(1);
    expect(fileIdOf(stack.fake.messages.get(ts)!.blocks)).toBe(uploads[0]![0]);
  });

  it('posts the result anew in the thread, once, when the placeholder was deleted', async () => {
    const before = delivered();
    const ts = await t2v('a red circle moves left --steps 30 --frames 17');
    expect(stack.fake.deleteMessage(ts)).toBe(true);

    await stack.fake.waitFor(() => delivered() > before, 'the delivery to finish', 90_000);
    const reposts = stack.fake
      .callsOf('chat.postMessage')
      .filter((c) => c.args['thread_ts'] === ts && /^✅/u.test(String(c.args['text'])));
    expect(reposts).toHaveLength(1);
    expect(reposts[0]!.result?.['ok']).toBe(true);
    const uploads = sharedInto(ts);
    expect(uploads).toHaveLength(1);
    const repost = stack.fake.messages.get(String(reposts[0]!.result?.['ts']))!;
    expect(repost).toMatchObject({ channel: 'C1', threadTs: ts });
    expect(fileIdOf(repost.blocks)).toBe(uploads[0]![0]);
  });
});
