import { type ChatInputCommandInteraction, SlashCommandBuilder } from 'discord.js';
import type { CommandContext } from '../context.ts';
import type { PackChoices, SlashCommand } from './command.ts';
import { commonOptions, framesOption, GUILD_ONLY, PROMPT_MAX, privateOption, seedOption } from './options.ts';

/** `/t2v`: a clip from text. */
export const t2v: SlashCommand = {
  data: (pack: PackChoices) => {
    const sizes = (pack.sizes ?? []).slice(0, 25).map(([w, h]) => ({ name: `${w}×${h}`, value: `${w}x${h}` }));
    return new SlashCommandBuilder()
      .setName('t2v')
      .setDescription('Generate a video from text')
      .setContexts(GUILD_ONLY)
      .addStringOption((o) =>
        o.setName('prompt').setDescription('What happens in the clip').setRequired(true).setMaxLength(PROMPT_MAX),
      )
      .addStringOption((o) => o.setName('negative').setDescription('What to avoid').setMaxLength(PROMPT_MAX))
      .addIntegerOption((o) =>
        o.setName('steps').setDescription('Denoising steps (1-50)').setMinValue(1).setMaxValue(50),
      )
      .addIntegerOption(seedOption)
      .addIntegerOption(framesOption(pack))
      .addStringOption((o) => {
        const option = o.setName('size').setDescription('Output size (width × height)');
        return sizes.length > 0 ? option.addChoices(...sizes) : option;
      })
      .addBooleanOption(privateOption);
  },
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    const negative = i.options.getString('negative');
    await ctx.generate(i, {
      ephemeral: i.options.getBoolean('private') === true,
      build: async () => ({
        task: 't2v',
        prompt: i.options.getString('prompt', true),
        ...(negative === null ? {} : { negativePrompt: negative }),
        ...commonOptions(i),
      }),
    });
  },
};
