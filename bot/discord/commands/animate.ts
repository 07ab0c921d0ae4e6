import { randomUUID } from 'node:crypto';
import { type ChatInputCommandInteraction, SlashCommandBuilder } from 'discord.js';
import { asAttachment, type CommandContext } from '../context.ts';
import { checkAttachment, downloadAttachment } from '../download.ts';
import { replyError } from '../jobs.ts';
import type { PackChoices, SlashCommand } from './command.ts';
import { commonOptions, framesOption, GUILD_ONLY, PROMPT_MAX, privateOption, seedOption } from './options.ts';

/** Motion levels of `/animate`: how much the conditioning frame may change (the noise multiplier). */
export const MOTION = { still: 0, low: 0.15, medium: 0.35, high: 0.6 } as const;
export type Motion = keyof typeof MOTION;

/** `/animate`: a clip from an attached image. */
export const animate: SlashCommand = {
  data: (pack: PackChoices) =>
    new SlashCommandBuilder()
      .setName('animate')
      .setDescription('Animate an image')
      .setContexts(GUILD_ONLY)
      .addAttachmentOption((o) => o.setName('image').setDescription('PNG, JPEG or WebP').setRequired(true))
      .addStringOption((o) => o.setName('prompt').setDescription('What happens in the clip').setMaxLength(PROMPT_MAX))
      .addStringOption((o) =>
        o
          .setName('motion')
          .setDescription('How far the clip may move away from the image')
          .addChoices(...Object.keys(MOTION).map((m) => ({ name: m, value: m }))),
      )
      .addIntegerOption(seedOption)
      .addIntegerOption(framesOption(pack))
      .addBooleanOption(privateOption),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    const image = asAttachment(i.options.getAttachment('image', true));
    const refused = checkAttachment(image, ctx.limits);
    if (refused !== undefined) return await replyError(i, refused.message, randomUUID());
    const motion = (i.options.getString('motion') ?? undefined) as Motion | undefined;
    await ctx.generate(i, {
      ephemeral: i.options.getBoolean('private') === true,
      build: async () => ({
        task: 'i2v',
        prompt: i.options.getString('prompt') ?? 'the scene comes to life',
        ...commonOptions(i),
        ...(motion === undefined || !(motion in MOTION) ? {} : { noiseMultipliers: [MOTION[motion]] }),
        images: [{ bytes: await downloadAttachment(image, ctx.limits), name: image.name }],
      }),
    });
  },
};
