import { type ChatInputCommandInteraction, MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { CommandContext } from '../context.ts';
import type { SlashCommand } from './command.ts';
import { GUILD_ONLY } from './options.ts';

/** `/quota`: the member's GPU time today, jobs in flight and the server's budget. */
export const quota: SlashCommand = {
  data: () => new SlashCommandBuilder().setName('quota').setDescription('Your GPU time today').setContexts(GUILD_ONLY),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const { userId, workspaceId } = await ctx.ids(i);
    const q = await ctx.service.frontEnd.quota(userId, workspaceId);
    const ws = q.workspace;
    await i.editReply(
      [
        `**GPU time today:** ${q.usedSeconds} s used, ${q.reservedSeconds} s reserved, ${q.remainingSeconds} s of ${q.limitSeconds} s left`,
        `**Jobs in flight:** ${q.queued} of ${q.maxQueued}`,
        `**Server budget:** ${ws.budgetSeconds === null ? 'none' : `${ws.remainingSeconds ?? 0} s of ${ws.budgetSeconds} s left`}`,
        `Resets <t:${Math.floor(q.resetsAt.getTime() / 1000)}:R>`,
        `-# ${q.explanation}`,
      ].join('\n'),
    );
  },
};
