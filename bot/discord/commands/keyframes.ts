import { randomUUID } from 'node:crypto';
import { type ChatInputCommandInteraction, SlashCommandBuilder } from 'discord.js';
import { asAttachment, type CommandContext } from '../context.ts';
import { type AttachmentLike, checkAttachment, downloadAttachment } from '../download.ts';
import { replyError } from '../jobs.ts';
import type { PackChoices, SlashCommand } from './command.ts';
import { commonOptions, framesOption, GUILD_ONLY, PROMPT_MAX, seedOption } from './options.ts';

/** `/keyframes`: a clip through a start, an optional middle and an end image. */
export const keyframes: SlashCommand = {
  data: (pack: PackChoices) =>
    new SlashCommandBuilder()
      .setName('keyframes')
      .setDescription('A clip through key images: start, optional middle, end')
      .setContexts(GUILD_ONLY)
      .addAttachmentOption((o) => o.setName('start').setDescription('First frame').setRequired(true))
      .addAttachmentOption((o) => o.setName('end').setDescription('Last frame').setRequired(true))
      .addStringOption((o) =>
        o.setName('prompt').setDescription('What happens').setRequired(true).setMaxLength(PROMPT_MAX),
      )
      .addAttachmentOption((o) => o.setName('middle').setDescription('Middle frame'))
      .addIntegerOption(seedOption)
      .addIntegerOption(framesOption(pack)),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    const start = asAttachment(i.options.getAttachment('start', true));
    const end = asAttachment(i.options.getAttachment('end', true));
    const middleOption = i.options.getAttachment('middle');
    const middle = middleOption === null ? undefined : asAttachment(middleOption);
    for (const image of [start, end, ...(middle === undefined ? [] : [middle])]) {
      const refused = checkAttachment(image, ctx.limits);
      if (refused !== undefined) return await replyError(i, refused.message, randomUUID());
    }
    const options = commonOptions(i);
    const last = ctx.latentFrames(options.frames ?? ctx.service.pack.manifest.video.defaultFrames) - 1;
    await ctx.generate(i, {
      ephemeral: false,
      build: async () => {
        const download = (a: AttachmentLike) => downloadAttachment(a, ctx.limits);
        const images = [
          { bytes: await download(start), latentIndex: 0, name: start.name },
          ...(middle === undefined
            ? []
            : [{ bytes: await download(middle), latentIndex: Math.round(last / 2), name: middle.name }]),
          { bytes: await download(end), latentIndex: last, name: end.name },
        ];
        return { task: 'keyframes', prompt: i.options.getString('prompt', true), ...options, images };
      },
    });
  },
};
