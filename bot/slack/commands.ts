import type { App } from '@slack/bolt';
import { LIMITS, longAsk, parseCommandArguments, parseLongArguments, UserError } from '../../commands/index.ts';
import type { SlackKit } from './kit.ts';
import { escapeMrkdwn } from './render.ts';
import { requesterIn } from './requester.ts';
import { openImageModal, openStoryboardModal } from './views.ts';

/** The slash commands but `/admin` (admin.ts). Each acks at once; what it throws after reaches app.error. */
export function registerCommands(app: App, kit: SlackKit): void {
  const { service, tell, startJob, made, seen, actor } = kit;

  /** The command's options and words, or the grammar's refusal thrown. */
  const argumentsOf = (text: string) => {
    const parsed = parseCommandArguments(text);
    if (!parsed.ok) throw parsed.error;
    return parsed.value;
  };

  app.command('/t2v', async ({ command, ack, client, context }) => {
    await ack();
    const { options, rest } = argumentsOf(command.text);
    await startJob(client, requesterIn(context), `slack:${command.trigger_id}`, {
      task: 't2v',
      ...options,
      prompt: rest.join(' '),
    });
  });

  for (const kind of ['animate', 'keyframes'] as const) {
    app.command(`/${kind}`, async ({ command, ack, client, context }) => {
      await ack();
      const { options, rest } = argumentsOf(command.text);
      const prompt = rest.join(' ');
      // The modal's prompt box holds at most this much; a longer prompt would be refused there, unseen.
      if (prompt.length > LIMITS.promptLength)
        throw new UserError(
          'InvalidInput',
          `prompts are at most ${LIMITS.promptLength} characters; this one has ${prompt.length}`,
        );
      await openImageModal(kit, client, command.trigger_id, {
        kind,
        place: { channelId: requesterIn(context).channelId },
        options,
        prompt,
      });
    });
  }

  // `/long [--seconds N | --segments N] [--seed N …] prompt`; without a prompt, the storyboard form (and a start image).
  app.command('/long', async ({ command, ack, client, context }) => {
    await ack();
    const who = requesterIn(context);
    const parsed = parseLongArguments(command.text);
    if (!parsed.ok) throw parsed.error;
    const { options, rest } = parsed.value;
    const prompt = rest.join(' ');
    if (prompt.trim() === '')
      return await openStoryboardModal(kit, client, command.trigger_id, {
        place: { channelId: who.channelId },
        options,
      });
    await kit.startLong(client, who, `slack:${command.trigger_id}`, longAsk(options, { prompt }));
  });

  app.command('/extend', async ({ command, ack, client, context }) => {
    await ack();
    const who = requesterIn(context);
    const { options, rest } = argumentsOf(command.text);
    const [clipId, ...words] = rest;
    if (clipId === undefined)
      throw new UserError('InvalidOption', 'usage: /extend <clip id> [prompt]; /history lists your clips');
    const { request } = await made(
      service.frontEnd.extendOf(clipId, await actor(who), { prompt: words.join(' '), options }),
    );
    await startJob(client, who, `slack:${command.trigger_id}`, request);
  });

  app.command('/transition', async ({ command, ack, client, context }) => {
    await ack();
    const who = requesterIn(context);
    const { options, rest } = argumentsOf(command.text);
    const [from, to, ...words] = rest;
    if (from === undefined || to === undefined)
      throw new UserError('InvalidOption', 'usage: /transition <from clip id> <to clip id> [prompt]');
    const { params } = await seen(who, from);
    await startJob(client, who, `slack:${command.trigger_id}`, {
      task: 'transition',
      ...options,
      prompt: words.length > 0 ? words.join(' ') : String(params['prompt'] ?? ''),
      clips: [{ clipId: from }, { clipId: to }],
    });
  });

  app.command('/quota', async ({ ack, client, context }) => {
    await ack();
    const who = requesterIn(context);
    const { userId, workspaceId } = await who.ids;
    const q = await service.frontEnd.quota(userId, workspaceId);
    await tell(
      client,
      who,
      `📊 Today: ${q.usedSeconds} of ${q.limitSeconds} GPU s used, ${q.reservedSeconds} s reserved, ${q.remainingSeconds} s left · ${q.queued}/${q.maxQueued} jobs in flight · resets ${q.resetsAt.toISOString()}\n${q.explanation}`,
    );
  });

  app.command('/history', async ({ command, ack, client, context }) => {
    await ack();
    const who = requesterIn(context);
    const limit = Math.min(20, Math.max(1, Number.parseInt(command.text, 10) || 10));
    const jobs = await service.frontEnd.history((await who.ids).userId, limit);
    const lines = jobs.map(
      (j) =>
        `• \`${j.id}\` ${j.task} · ${j.status}${j.clip === null ? '' : ` · clip \`${j.clip.id}\``} · ${escapeMrkdwn(String(j.parameters['prompt'] ?? '')).slice(0, 80)}`,
    );
    await tell(
      client,
      who,
      lines.length === 0 ? 'You have no requests yet.' : `🕘 Your last ${lines.length}:\n${lines.join('\n')}`,
    );
  });

  app.command('/cancel', async ({ command, ack, client, context }) => {
    await ack();
    const jobId = command.text.trim();
    if (jobId === '') throw new UserError('InvalidOption', 'usage: /cancel <job id>; /history lists your jobs');
    await kit.cancelJob(client, requesterIn(context), jobId);
  });
}
