import { type ChatInputCommandInteraction, SlashCommandBuilder } from 'discord.js';
import { resolveClip } from '../clip-link.ts';
import { type CommandContext, remadeRequest } from '../context.ts';
import { suggestClips } from './clip-choices.ts';
import type { SlashCommand } from './command.ts';
import { GUILD_ONLY, PROMPT_MAX } from './options.ts';

/** `/extend`: continues a clip (an id, or a link to one of our results). */
export const extend: SlashCommand = {
  data: () =>
    new SlashCommandBuilder()
      .setName('extend')
      .setDescription('Continue one of your clips')
      .setContexts(GUILD_ONLY)
      .addStringOption((o) =>
        o.setName('clip').setDescription('A clip id or a link to a result').setRequired(true).setAutocomplete(true),
      )
      .addStringOption((o) => o.setName('prompt').setDescription('What happens next').setMaxLength(PROMPT_MAX)),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    const { clipId, seenIn } = await resolveClip(ctx.client, i, i.options.getString('clip', true));
    const seen = seenIn === undefined ? undefined : [seenIn];
    const verdict = await ctx.allowed(i, { clipId }, 'derive', seen);
    if (verdict === undefined) return;
    await ctx.generate(i, {
      ephemeral: verdict.private,
      ...(seen === undefined ? {} : { seenIn: seen }),
      build: async () =>
        remadeRequest(
          ctx.service.frontEnd.extendOf(clipId, await ctx.actor(i, seen), {
            prompt: i.options.getString('prompt') ?? undefined,
          }),
        ),
    });
  },
  autocomplete: suggestClips,
};
