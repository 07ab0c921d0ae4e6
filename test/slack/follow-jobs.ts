import { expect } from 'vitest';
import type { SlackStack } from '../../dev/slack/harness.ts';

/** The buttons of a message's actions block. */
export const buttonsOf = (blocks: unknown[]) =>
  (blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === 'actions')
    ?.elements ?? [];

/**
 * Runs `act` and returns the ts of each of the next `count` messages the bot posts: a job's placeholder, which
 * its progress and result edit. Tests follow their own jobs by it, never by "the latest upload": a job another
 * test left running would otherwise be taken for this one.
 */
export async function placeholdersAfter(stack: SlackStack, act: () => Promise<unknown>, count = 1): Promise<string[]> {
  const posted = stack.fake.callsOf('chat.postMessage').length;
  await act();
  await stack.fake.waitFor(() => stack.fake.callsOf('chat.postMessage').length >= posted + count, 'the placeholder');
  return stack.fake
    .callsOf('chat.postMessage')
    .slice(posted, posted + count)
    .map((c) => String(c.result?.['ts']));
}
export const placeholderAfter = async (stack: SlackStack, act: () => Promise<unknown>) =>
  (await placeholdersAfter(stack, act))[0]!;
/** Waits for the job behind placeholder `ts` to end, expects a result, and returns it with the upload it names. */
export async function resultAt(stack: SlackStack, ts: string, what: string, timeoutMs?: number) {
  await stack.fake.waitFor(() => /^[✅❌🚫]/u.test(stack.fake.messages.get(ts)?.text ?? ''), what, timeoutMs);
  const message = stack.fake.messages.get(ts)!;
  expect(message.text).toMatch(/^✅/u);
  const value = JSON.parse(buttonsOf(message.blocks)[0]!.value) as { clipId: string; fileId?: string };
  const upload = stack.fake.uploads.get(value.fileId ?? '');
  expect(upload?.channel, `the upload named by ${what}`).toBeDefined();
  return { message, clipId: value.clipId, upload: upload! };
}

/** What a result's buttons carry: the clip, and the Slack file it was uploaded as. */
export const clipValueOf = (blocks: unknown[]) =>
  JSON.parse(buttonsOf(blocks)[0]?.value ?? '{}') as { clipId?: string; fileId?: string };
