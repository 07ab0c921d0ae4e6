import { randomUUID } from 'node:crypto';
import {
  ActionRowBuilder,
  type ButtonInteraction,
  MessageFlags,
  ModalBuilder,
  type ModalSubmitInteraction,
  Routes,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { submitStoryboard } from './commands/long.ts';
import { type CommandContext, remadeRequest } from './context.ts';
import { Action, customId, parseCustomId } from './custom-id.ts';
import { replyError } from './jobs.ts';

/** A second press of the same button by the same member within this window is answered, not queued again. */
const DOUBLE_CLICK_MS = 10_000;

/**
 * The buttons under queued messages and results (Cancel; Extend, Re-roll, Remix, Info, Delete) and the Remix modal.
 * Their custom ids carry only an id: the core decides who may act on it.
 */
export function createComponentHandlers(ctx: CommandContext) {
  const { service, client } = ctx;
  const recentPresses = new Map<string, number>();

  /** Answers a repeated press at once (the first one is still being handled), so one click makes one job. */
  function doubleClick(key: string): boolean {
    const at = Date.now();
    for (const [k, t] of recentPresses) if (at - t > DOUBLE_CLICK_MS) recentPresses.delete(k);
    if (recentPresses.has(key)) return true;
    recentPresses.set(key, at);
    return false;
  }

  /** The Remix form, prefilled with the job's prompt when the core answers fast enough. */
  async function showRemix(i: ButtonInteraction, id: string) {
    // The modal must be the first response: ask the core and prefill only if the database answers fast; a slow
    // answer shows an empty form, and the core checks again when it is sent.
    const verdict = await Promise.race([
      ctx.actor(i).then((by) => service.frontEnd.authorize({ jobId: id }, by, 'derive')),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1500)),
    ]).catch(() => undefined);
    if (verdict !== undefined && !verdict.ok) return await replyError(i, verdict.error.message, randomUUID());
    const prompt = verdict?.ok === true ? String(verdict.job.parameters['prompt'] ?? '') : '';
    const input = new TextInputBuilder()
      .setCustomId('prompt')
      .setLabel('New prompt')
      .setStyle(TextInputStyle.Paragraph)
      .setMaxLength(500)
      .setRequired(true);
    if (prompt !== '') input.setValue(prompt);
    await i.showModal(
      new ModalBuilder()
        .setCustomId(customId(Action.Remix, id))
        .setTitle('Remix')
        .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input)),
    );
  }

  async function button(i: ButtonInteraction) {
    const parsed = parseCustomId(i.customId);
    if (parsed === undefined)
      return await replyError(i, 'this button is from an older version; run the command again', randomUUID());
    const { action, id } = parsed;
    if (action === Action.Remix) return await showRemix(i, id);
    if (action === Action.Extend || action === Action.Reroll) {
      if (doubleClick(`${action}:${id}:${i.user.id}`))
        return void (await i.reply({
          content: 'Already on it: that press was counted once.',
          flags: MessageFlags.Ephemeral,
        }));
      // Extend carries a clip id, Re-roll a job id; either way the core decides, and privacy carries over.
      const verdict = await ctx.allowed(i, action === Action.Extend ? { clipId: id } : { jobId: id }, 'derive');
      if (verdict === undefined) return;
      await ctx.generate(i, {
        ephemeral: verdict.private,
        ...(action === Action.Reroll ? { derivedFrom: id } : {}),
        build: async () =>
          action === Action.Extend
            ? await remadeRequest(service.frontEnd.extendOf(id, await ctx.actor(i)))
            : await remadeRequest(service.frontEnd.remake({ jobId: id }, await ctx.actor(i), { kind: 'reroll' })),
      });
      return;
    }
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    if (action === Action.Cancel) return await ctx.cancelJob(i, id);
    if (action === Action.Info) {
      const verdict = await ctx.allowed(i, { jobId: id }, 'see');
      if (verdict === undefined) return;
      const { job } = verdict;
      const info = { jobId: job.id, task: job.task, status: job.status, ...job.parameters, clip: job.clip };
      return void (await i.editReply(`\`\`\`json\n${JSON.stringify(info, null, 1).slice(0, 1900)}\n\`\`\``));
    }
    // Delete: the core decides (the owner, or an operator of this guild) and deletes the result (history, files,
    // Extend), as every front end's Delete does; then the message goes.
    const removed = await service.frontEnd.remove(id, await ctx.actor(i));
    if (!removed.ok) return await replyError(i, removed.error.message, randomUUID());
    await client.rest.delete(Routes.channelMessage(i.message.channelId, i.message.id));
    await i.editReply('Deleted.');
  }

  async function modal(i: ModalSubmitInteraction) {
    const parsed = parseCustomId(i.customId);
    if (parsed?.action === Action.Long) return await submitStoryboard(i, ctx, parsed.id);
    if (parsed?.action !== Action.Remix) return await replyError(i, 'unknown form', randomUUID());
    const prompt = i.fields.getTextInputValue('prompt');
    const verdict = await ctx.allowed(i, { jobId: parsed.id }, 'derive');
    if (verdict === undefined) return;
    await ctx.generate(i, {
      ephemeral: verdict.private,
      derivedFrom: parsed.id,
      build: async () =>
        remadeRequest(service.frontEnd.remake({ jobId: parsed.id }, await ctx.actor(i), { kind: 'remix', prompt })),
    });
  }

  return { button, modal };
}
