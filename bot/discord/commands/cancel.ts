import {
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  MessageFlags,
  SlashCommandBuilder,
} from 'discord.js';
import type { CommandContext } from '../context.ts';
import type { SlashCommand } from './command.ts';
import { GUILD_ONLY } from './options.ts';

/** `/cancel`: cancels a queued or running request, by default the member's newest. */
export const cancel: SlashCommand = {
  data: () =>
    new SlashCommandBuilder()
      .setName('cancel')
      .setDescription('Cancel a queued or running request')
      .setContexts(GUILD_ONLY)
      .addStringOption((o) =>
        o.setName('job').setDescription('Which one (default: your newest)').setAutocomplete(true),
      ),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const { userId } = await ctx.ids(i);
    let jobId = i.options.getString('job');
    if (jobId === null) {
      const list = await ctx.service.frontEnd.history(userId, 20);
      jobId = list.find((j) => j.status === 'queued' || j.status === 'running')?.id ?? null;
      if (jobId === null) return void (await i.editReply('You have nothing queued or running.'));
    }
    await ctx.cancelJob(i, jobId);
  },
  /** The member's queued and running requests. */
  async autocomplete(i: AutocompleteInteraction, ctx: CommandContext) {
    const { userId } = await ctx.ids(i);
    const list = await ctx.service.frontEnd.history(userId, 25);
    await i.respond(
      list
        .filter((j) => j.status === 'queued' || j.status === 'running')
        .map((j) => ({ name: `${j.status} · ${String(j.parameters['prompt'] ?? '').slice(0, 80)}`, value: j.id })),
    );
  },
};
