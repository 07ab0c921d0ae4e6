import { type ChatInputCommandInteraction, MessageFlags, SlashCommandBuilder } from 'discord.js';
import { parseOrigin } from '../../../commands/index.ts';
import type { CommandContext } from '../context.ts';
import { fitLines } from '../render.ts';
import type { SlashCommand } from './command.ts';
import { GUILD_ONLY } from './options.ts';

/** `/history`: the member's recent requests, with links to their results here. */
export const history: SlashCommand = {
  data: () =>
    new SlashCommandBuilder()
      .setName('history')
      .setDescription('Your recent requests')
      .setContexts(GUILD_ONLY)
      .addIntegerOption((o) => o.setName('count').setDescription('How many (1-10)').setMinValue(1).setMaxValue(10)),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const { userId } = await ctx.ids(i);
    const list = await ctx.service.frontEnd.history(userId, i.options.getInteger('count') ?? 5);
    if (list.length === 0) return void (await i.editReply('You have no requests yet; try `/t2v`.'));
    const lines = list.map((job) => {
      const origin = parseOrigin(job.origin);
      const link =
        origin?.platform === 'discord' && origin.channelId && origin.messageId && i.guildId
          ? ` · https://discord.com/channels/${i.guildId}/${origin.channelId}/${origin.messageId}`
          : '';
      const prompt = String(job.parameters['prompt'] ?? '');
      return `\`${job.id}\` ${job.status} · ${job.task} · “${prompt.slice(0, 60)}”${job.clip ? ` · seed ${job.clip.seed}` : ''}${link}`;
    });
    // Ten lines with links can pass Discord's 2,000 characters: show the newest that fit and say how many did not.
    await i.editReply(fitLines(lines, (left) => `-# ${left} more not shown: a Discord message holds 2,000 characters`));
  },
};
