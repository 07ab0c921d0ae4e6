import type { App } from '@slack/bolt';
import { UserError } from '../../commands/index.ts';
import type { SlackFileLike } from './download.ts';
import type { SlackKit } from './kit.ts';
import { parseButtonValue } from './render.ts';
import { requesterIn } from './requester.ts';
import { openImageModal } from './views.ts';

const SHORTCUT_ANIMATE = 'v1:animate-image';
const SHORTCUT_EXTEND = 'v1:extend-clip';

/** The message shortcuts "Animate this image" and "Extend this clip". */
export function registerShortcuts(app: App, kit: SlackKit): void {
  const { service, startJob, made, actor } = kit;

  app.shortcut(
    { callback_id: SHORTCUT_ANIMATE, type: 'message_action' },
    async ({ shortcut, ack, client, context }) => {
      await ack();
      const who = requesterIn(context);
      const files = ((shortcut.message['files'] ?? []) as SlackFileLike[]).filter((f) =>
        f.mimetype?.startsWith('image/'),
      );
      const first = files[0];
      if (first?.id === undefined)
        throw new UserError(
          'InvalidInput',
          'that message has no image; use "Animate this image" on a message with a PNG, JPEG or WebP',
        );
      await openImageModal(kit, client, shortcut.trigger_id, {
        kind: 'animate',
        place: { channelId: who.channelId, ...(who.threadTs === undefined ? {} : { threadTs: who.threadTs }) },
        fileIds: [first.id],
        options: {},
        prompt: '',
      });
    },
  );

  app.shortcut({ callback_id: SHORTCUT_EXTEND, type: 'message_action' }, async ({ shortcut, ack, client, context }) => {
    await ack();
    const who = requesterIn(context);
    const clipId = clipIdOf(shortcut.message);
    if (clipId === undefined)
      throw new UserError(
        'InvalidInput',
        'that message is not one of my clips; use "Extend this clip" on a result or its video',
      );
    const { request } = await made(service.frontEnd.extendOf(clipId, await actor(who)));
    await startJob(client, who, `slack:${shortcut.trigger_id}`, request);
  });
}

/** The clip id in a result message (its buttons) or a result video (its file name `pusa-<clip id>.mp4`). */
export function clipIdOf(message: Record<string, unknown>): string | undefined {
  for (const block of (message['blocks'] ?? []) as { elements?: { value?: string }[] }[])
    for (const element of block.elements ?? []) {
      const parsed = parseButtonValue(element.value);
      if (parsed !== null) return parsed.clipId;
    }
  for (const file of (message['files'] ?? []) as { name?: string }[]) {
    const match = /^pusa-([\w-]+)\.mp4$/.exec(file.name ?? '');
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}
