import { randomUUID } from 'node:crypto';
import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  type MessageContextMenuCommandInteraction,
} from 'discord.js';
import { asAttachment, type CommandContext } from '../context.ts';
import { checkAttachment, downloadAttachment } from '../download.ts';
import { replyError } from '../jobs.ts';
import type { MenuCommand } from './command.ts';
import { GUILD_ONLY } from './options.ts';

/** The "Animate this image" message menu: animates a message's first attachment, its text as the prompt. */
export const animateThisImage: MenuCommand = {
  data: () =>
    new ContextMenuCommandBuilder()
      .setName('Animate this image')
      .setType(ApplicationCommandType.Message)
      .setContexts(GUILD_ONLY),
  async execute(i: MessageContextMenuCommandInteraction, ctx: CommandContext) {
    const first = i.targetMessage.attachments.first();
    if (first === undefined)
      return await replyError(
        i,
        'that message has no image; use this on a message with an image attached',
        randomUUID(),
      );
    const image = asAttachment(first);
    const refused = checkAttachment(image, ctx.limits);
    if (refused !== undefined) return await replyError(i, refused.message, randomUUID());
    await ctx.generate(i, {
      ephemeral: false,
      build: async () => ({
        task: 'i2v',
        prompt: i.targetMessage.content.trim() || 'the scene comes to life',
        images: [{ bytes: await downloadAttachment(image, ctx.limits), name: image.name }],
      }),
    });
  },
};
