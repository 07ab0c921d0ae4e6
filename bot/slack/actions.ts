import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { UserError } from '../../commands/index.ts';
import type { Client, SlackKit } from './kit.ts';
import { ACTION, type ClipButtonValue, escapeMrkdwn, parseButtonValue } from './render.ts';
import { type Requester, requesterIn } from './requester.ts';
import { openRemixModal } from './views.ts';

/** The buttons: stateless, the clip in the value; a double click (same message, user, action) makes one job. */
export function registerActions(app: App, kit: SlackKit): void {
  const { service, edits, tell, startJob, made, seen, owner, actor } = kit;
  const manifest = service.pack.manifest;

  const clipButton = (
    actionId: string,
    run: (args: {
      client: Client;
      who: Requester;
      clip: ClipButtonValue;
      messageTs: string;
      triggerId: string;
    }) => Promise<void>,
  ) =>
    app.action<BlockAction>(actionId, async ({ ack, body, client, context }) => {
      await ack();
      const clip = parseButtonValue((body.actions[0] as ButtonAction | undefined)?.value);
      const messageTs = body.container['message_ts'] as string | undefined;
      if (clip === null || messageTs === undefined)
        throw new UserError('InvalidInput', 'this button is from an older version; run the command again');
      await run({ client, who: requesterIn(context), clip, messageTs, triggerId: body.trigger_id });
    });

  clipButton(ACTION.extend, async ({ client, who, clip, messageTs }) => {
    const { request } = await made(service.frontEnd.extendOf(clip.clipId, await actor(who)));
    await startJob(client, who, `slack:extend:${messageTs}:${who.userId}`, request);
  });
  clipButton(ACTION.reroll, async ({ client, who, clip, messageTs }) => {
    const { request, derivedFrom } = await made(
      service.frontEnd.remake({ clipId: clip.clipId }, await actor(who), { kind: 'reroll' }),
    );
    await startJob(client, who, `slack:reroll:${messageTs}:${who.userId}`, request, derivedFrom);
  });
  clipButton(ACTION.remix, async ({ client, who, clip, triggerId }) => {
    const { params } = await seen(who, clip.clipId);
    await openRemixModal(client, triggerId, {
      clipId: clip.clipId,
      place: { channelId: who.channelId, ...(who.threadTs === undefined ? {} : { threadTs: who.threadTs }) },
      prompt: String(params['prompt'] ?? ''),
    });
  });
  clipButton(ACTION.info, async ({ client, who, clip }) => {
    const { job, params } = await seen(who, clip.clipId);
    const record = job.clip;
    if (record === null) throw new UserError('NotFound', `clip ${clip.clipId} was not found; it may have been deleted`);
    await tell(
      client,
      who,
      [
        `ℹ️ Clip \`${record.id}\` (job \`${job.id}\`, ${job.task})`,
        `prompt: ${escapeMrkdwn(String(params['prompt'] ?? ''))}`,
        `seed ${record.seed} · steps ${String(params['steps'] ?? manifest.defaults.steps)} · ${record.frames} frames at ${record.fps} fps · ${record.width}×${record.height} · ${(record.sizeBytes / 1024).toFixed(0)} KB · ${job.chargedSeconds} GPU s charged`,
        ...(record.parentClipId === null ? [] : [`extends clip \`${record.parentClipId}\``]),
      ].join('\n'),
    );
  });
  clipButton(ACTION.delete, async ({ client, who, clip, messageTs }) => {
    // The core decides (the owner, or an operator) and deletes the result (history, files, Extend), as every front
    // end's Delete does; then the upload.
    const by = await owner(who);
    const verdict = await service.frontEnd.authorize({ clipId: clip.clipId }, by, 'delete');
    if (!verdict.ok) throw verdict.error;
    const removed = await service.frontEnd.remove(verdict.job.id, by);
    if (!removed.ok) throw removed.error;
    if (clip.fileId !== undefined) await client.files.delete({ file: clip.fileId }).catch(() => undefined);
    await edits.edit(`${who.channelId}/${messageTs}`, () =>
      client.chat.update({
        channel: who.channelId,
        ts: messageTs,
        text: `🗑️ Deleted by <@${who.userId}>`,
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `🗑️ Deleted by <@${who.userId}>` } }],
      }),
    );
  });
  app.action<BlockAction>(ACTION.cancel, async ({ ack, body, client, context }) => {
    await ack();
    const value = (body.actions[0] as ButtonAction | undefined)?.value;
    await kit.cancelJob(client, requesterIn(context), value ?? '');
  });
}
