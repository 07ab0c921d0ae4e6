import { type ChatInputCommandInteraction, SlashCommandBuilder } from 'discord.js';
import { resolveClip } from '../clip-link.ts';
import type { CommandContext } from '../context.ts';
import { suggestClips } from './clip-choices.ts';
import type { SlashCommand } from './command.ts';
import { GUILD_ONLY, PROMPT_MAX } from './options.ts';

/** `/transition`: a clip joining two clips; private when either of them is. */
export const transition: SlashCommand = {
  data: () =>
    new SlashCommandBuilder()
      .setName('transition')
      .setDescription('A clip that joins two of your clips')
      .setContexts(GUILD_ONLY)
      .addStringOption((o) => o.setName('from').setDescription('First clip').setRequired(true).setAutocomplete(true))
      .addStringOption((o) => o.setName('to').setDescription('Second clip').setRequired(true).setAutocomplete(true))
      .addStringOption((o) => o.setName('prompt').setDescription('What happens between').setMaxLength(PROMPT_MAX)),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    const from = await resolveClip(ctx.client, i, i.options.getString('from', true));
    const to = await resolveClip(ctx.client, i, i.options.getString('to', true));
    const seen = [from.seenIn, to.seenIn].filter((c) => c !== undefined);
    let ephemeral = false;
    for (const clipId of [from.clipId, to.clipId]) {
      const verdict = await ctx.allowed(i, { clipId }, 'derive', seen);
      if (verdict === undefined) return;
      ephemeral ||= verdict.private;
    }
    await ctx.generate(i, {
      ephemeral,
      seenIn: seen,
      build: async () => ({
        task: 'transition',
        prompt: i.options.getString('prompt') ?? 'a smooth transition',
        clips: [{ clipId: from.clipId }, { clipId: to.clipId }],
      }),
    });
  },
  autocomplete: suggestClips,
};
