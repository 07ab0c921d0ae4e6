import { randomUUID } from 'node:crypto';
import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  type MessageContextMenuCommandInteraction,
} from 'discord.js';
import { clipIdIn } from '../clip-link.ts';
import { type CommandContext, remadeRequest } from '../context.ts';
import { replyError } from '../jobs.ts';
import type { MenuCommand } from './command.ts';
import { GUILD_ONLY } from './options.ts';

/** The "Extend this clip" message menu: continues the clip of one of our result messages. */
export const extendThisClip: MenuCommand = {
  data: () =>
    new ContextMenuCommandBuilder()
      .setName('Extend this clip')
      .setType(ApplicationCommandType.Message)
      .setContexts(GUILD_ONLY),
  async execute(i: MessageContextMenuCommandInteraction, ctx: CommandContext) {
    const clipId = clipIdIn(
      i.targetMessage.components.map((row) => row.toJSON()) as { components?: { custom_id?: string }[] }[],
    );
    if (clipId === undefined)
      return await replyError(
        i,
        'that message is not one of my results; use this on a clip with an Extend button',
        randomUUID(),
      );
    const verdict = await ctx.allowed(i, { clipId }, 'derive');
    if (verdict === undefined) return;
    await ctx.generate(i, {
      ephemeral: verdict.private,
      build: async () => remadeRequest(ctx.service.frontEnd.extendOf(clipId, await ctx.actor(i))),
    });
  },
};
