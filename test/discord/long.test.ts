import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buttonIds, type DiscordStack, opt, resultOf, startDiscordStack } from '../../dev/discord/harness.ts';
import type { StoredMessage } from '../../dev/discord/local-discord.ts';
import { probeClip } from '../../media/mp4.ts';

const ada = { id: '700000000000000001', username: 'ada' };
const STRING = 3;
const INTEGER = 4;
const BOOLEAN = 5;

let stack: DiscordStack;
beforeAll(async () => {
  stack = await startDiscordStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

/** The posted clip of an interaction (its message also carries each segment's MP4 before it). */
const finalOf = (id: string) => {
  const m = resultOf(stack.local, id);
  return m?.content.startsWith('✅') ? m : undefined;
};
/** The uploads to an interaction's messages named `segment-<k>.mp4`, in the order they were sent. */
const segmentUploads = (token: string) =>
  stack.local.requests
    .filter((r) => r.path.includes(token) && r.status < 300)
    .flatMap((r) => r.files.map((f) => /^segment-(\d+)\.mp4$/.exec(f.name)?.[1]))
    .filter((k) => k !== undefined)
    .map(Number);
/** Every `content` an interaction's messages were given, in order (the queued, progress, segment and result edits). */
const contents = (token: string) =>
  stack.local.requests
    .filter((r) => r.path.includes(token))
    .map((r) => String((r.body as { content?: unknown; data?: { content?: unknown } } | null)?.content ?? ''));

describe('/long on Discord (real discord.js against the local Discord, a pusa-mini worker)', () => {
  it('runs a 12-segment storyboard typed in the form: segment k of 12, each segment as it lands, the joined clip', async () => {
    const storyboard = Array.from(
      { length: 12 },
      (_, i) => `a red circle moves ${i % 2 === 0 ? 'right' : 'left'} ${i}`,
    );
    const command = stack.local.slash(
      'long',
      [opt('storyboard', BOOLEAN, true), opt('frames', INTEGER, 17), opt('steps', INTEGER, 1), opt('seed', INTEGER, 7)],
      ada,
    );
    // The storyboard form is the command's first answer (a modal, accepted by the stand-in's limits).
    await stack.local.waitFor(() => (command.callbackType === 9 ? true : undefined), 'the storyboard form');
    const shown = stack.local.requests.find(
      (r) => r.path.includes(`/interactions/${command.id}/`) && (r.body as { type?: number }).type === 9,
    );
    const modal = (shown?.body as { data: { custom_id: string; title: string } } | undefined)?.data ?? {
      custom_id: '',
      title: '',
    };
    expect(modal.custom_id).toBe(`v1:long:${command.id}`);

    const submit = stack.local.modalSubmit(modal.custom_id, { storyboard: `${storyboard.join('\n')}\n\n` }, ada);
    const result = await stack.local.waitFor(() => finalOf(submit.id), 'the joined clip', 150_000);

    expect(result.content).toMatch(/seed 7 · 193 frames .* · 12 segments$/);
    const mp4 = result.attachments.find((a) => a.filename.endsWith('.mp4'));
    const path = join(stack.service.artifacts.root, `discord-long-${submit.id}.mp4`);
    await writeFile(path, stack.local.file(mp4?.url ?? '') ?? new Uint8Array());
    expect(await probeClip(path)).toMatchObject({ frames: 193, width: 128, height: 128 });
    // The storyboard's prompts, one per segment, in order; the chain's job is what the result's buttons name.
    const jobId = buttonIds(result)[3]?.split(':')[2] ?? '';
    const job = await stack.service.store.job(jobId);
    expect((job?.parameters['long'] as { prompts?: string[] } | undefined)?.prompts).toEqual(storyboard);
    // Each segment landed on the job's message in order (best effort: a missed one is held by the final clip).
    const landed = segmentUploads(submit.token);
    expect(landed).toEqual([...landed].sort((a, b) => a - b));
    expect(new Set(landed).size).toBeGreaterThanOrEqual(11);
    const texts = contents(submit.token);
    expect(texts.some((t) => /🧩 segment 1 of 12 done: “a red circle moves right 0”/.test(t))).toBe(true);
    expect(texts.some((t) => /segment \d+ of 12 · step \d+\/1 · ETA ~/.test(t))).toBe(true);
    expect(texts.some((t) => /Queued .* · 12 segments, 193 frames \(12 s\) · seed 7 · position \d+/.test(t))).toBe(
      true,
    );
  }, 180_000);

  it("names a joined clip over the guild's upload limit even at the lowest quality instead of uploading it", async () => {
    // Measured: a 17-frame segment of this prompt is 2–7 KB from CRF 51 to 18, the joined 193 frames 7 KB at CRF 51.
    const command = stack.local.slash(
      'long',
      [
        opt('prompt', STRING, 'a red circle moves right'),
        opt('segments', INTEGER, 12),
        opt('frames', INTEGER, 17),
        opt('steps', INTEGER, 1),
        opt('seed', INTEGER, 7),
      ],
      ada,
      { sizeLimit: 5000 },
    );
    const result = await stack.local.waitFor(
      () => (stack.local.original(command)?.content.startsWith('✅') ? stack.local.original(command) : undefined),
      'the result',
      150_000,
    );
    expect(result?.content).toMatch(
      /193 frames .* · 12 segments\n📦 The clip is .* MiB, over this channel's upload limit/,
    );
    expect(result?.attachments.some((a) => a.filename.startsWith('pusa-'))).toBe(false);
    expect(buttonIds(result as StoredMessage).map((id) => id.split(':')[1])).toEqual([
      'extend',
      'reroll',
      'remix',
      'info',
      'delete',
    ]);
  }, 180_000);

  it('stops a chain from its Cancel button and posts the segments made', async () => {
    const command = stack.local.slash(
      'long',
      [
        opt('prompt', STRING, 'a slow long clip of a blue square'),
        opt('segments', INTEGER, 8),
        opt('frames', INTEGER, 17),
        opt('steps', INTEGER, 30),
      ],
      ada,
    );
    const message = await stack.local.waitFor(
      () =>
        stack.local.original(command)?.content.includes('segment 1 of 8 done')
          ? (stack.local.original(command) as StoredMessage)
          : undefined,
      'the first segment',
      90_000,
    );
    const cancel = buttonIds(message)[0] ?? '';
    expect(cancel).toMatch(/^v1:cancel:/);
    const press = stack.local.button(message, cancel, ada);
    await stack.local.waitFor(
      () =>
        [...stack.local.messages.values()].find((m) => m.interactionId === press.id && /Cancelling/.test(m.content)),
      'the cancel answer',
    );
    const result = await stack.local.waitFor(() => finalOf(command.id), 'the segments made', 90_000);
    expect(result.content).toMatch(/ · [1-7] of 8 segments \(cancelled; only those were charged\)$/);
  }, 150_000);
});
