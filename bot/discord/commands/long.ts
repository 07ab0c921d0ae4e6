import { randomUUID } from 'node:crypto';
import {
  ActionRowBuilder,
  type ChatInputCommandInteraction,
  ModalBuilder,
  type ModalSubmitInteraction,
  SlashCommandBuilder,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { LONG_MAX_SECONDS, longAsk, STORYBOARD_MAX_CHARS } from '../../../commands/index.ts';
import type { LongRequest } from '../../core/long.ts';
import { asAttachment, type CommandContext } from '../context.ts';
import { Action, customId } from '../custom-id.ts';
import { type AttachmentLike, checkAttachment, downloadAttachment } from '../download.ts';
import { replyError } from '../jobs.ts';
import type { PackChoices, SlashCommand } from './command.ts';
import { GUILD_ONLY, PROMPT_MAX, privateOption, seedOption } from './options.ts';

/** Discord's paragraph text input holds at most 4,000 characters (its modal limits, ../shared/spec/chat-platforms.md). */
const STORYBOARD_INPUT_MAX = Math.min(4000, STORYBOARD_MAX_CHARS);
/** How long the command's options wait for the storyboard form (Discord keeps a modal open until it is closed). */
const FORM_TTL_SECONDS = 86_400;
const formKey = (id: string) => `discord:long-form:${id}`;

/** The command's options but the text, kept for the storyboard form's submission. */
interface LongForm {
  options: { seconds?: number; segments?: number; seed?: number; steps?: number; frames?: number };
  image?: AttachmentLike;
  ephemeral: boolean;
}

/**
 * `/long`: up to a minute of video as a chain of segments (bot/core/long.ts). One prompt for all of it, or a
 * storyboard typed in a form, one prompt per line (one per segment); how long in seconds or segments; an optional
 * start image and seed. The job's message shows "segment k of N" and each segment as it lands, then the clip.
 */
export const long: SlashCommand = {
  data: (pack: PackChoices) =>
    new SlashCommandBuilder()
      .setName('long')
      .setDescription('A long video (up to a minute) made of segments, one prompt or a storyboard')
      .setContexts(GUILD_ONLY)
      .addStringOption((o) =>
        o
          .setName('prompt')
          .setDescription('What happens, for every segment (leave out to type a storyboard)')
          .setMaxLength(PROMPT_MAX),
      )
      .addBooleanOption((o) =>
        o.setName('storyboard').setDescription('Open a form to type one prompt per line, one per segment'),
      )
      .addNumberOption((o) =>
        o
          .setName('seconds')
          .setDescription(`How long, seconds (up to ${LONG_MAX_SECONDS})`)
          .setMinValue(1)
          .setMaxValue(LONG_MAX_SECONDS),
      )
      .addIntegerOption((o) =>
        o.setName('segments').setDescription('How long, in segments').setMinValue(1).setMaxValue(LONG_MAX_SECONDS),
      )
      .addAttachmentOption((o) => o.setName('image').setDescription('A start image: PNG, JPEG or WebP'))
      .addIntegerOption(seedOption)
      .addIntegerOption((o) =>
        o.setName('steps').setDescription('Denoising steps per segment (1-50)').setMinValue(1).setMaxValue(50),
      )
      .addIntegerOption((o) =>
        o
          .setName('frames')
          .setDescription('Frames per segment')
          .addChoices(...pack.frameCounts.slice(0, 25).map((n) => ({ name: `${n} frames`, value: n }))),
      )
      .addBooleanOption(privateOption),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    const attachment = i.options.getAttachment('image');
    const image = attachment === null ? undefined : asAttachment(attachment);
    if (image !== undefined) {
      const refused = checkAttachment(image, ctx.limits);
      if (refused !== undefined) return await replyError(i, refused.message, randomUUID());
    }
    const form: LongForm = {
      options: defined({
        seconds: i.options.getNumber('seconds') ?? undefined,
        segments: i.options.getInteger('segments') ?? undefined,
        seed: i.options.getInteger('seed') ?? undefined,
        steps: i.options.getInteger('steps') ?? undefined,
        frames: i.options.getInteger('frames') ?? undefined,
      }),
      ...(image === undefined ? {} : { image }),
      ephemeral: i.options.getBoolean('private') === true,
    };
    const prompt = i.options.getString('prompt') ?? '';
    if (i.options.getBoolean('storyboard') === true || prompt.trim() === '') {
      // The form must be the first answer: the options wait for it in the service's notes, keyed by the form.
      await ctx.service.remember(formKey(i.id), JSON.stringify(form), FORM_TTL_SECONDS);
      await i.showModal(storyboardModal(i.id, prompt));
      return;
    }
    await run(i, ctx, form, { prompt });
  },
};

/** The storyboard form's submission: the options kept for it, and one prompt per line. */
export async function submitStoryboard(i: ModalSubmitInteraction, ctx: CommandContext, formId: string) {
  const kept = await ctx.service.recall(formKey(formId));
  if (kept === undefined) return await replyError(i, 'this form has expired; run /long again', randomUUID());
  await run(i, ctx, JSON.parse(kept) as LongForm, { storyboard: i.fields.getTextInputValue('storyboard') });
}

async function run(
  i: ChatInputCommandInteraction | ModalSubmitInteraction,
  ctx: CommandContext,
  form: LongForm,
  text: { prompt?: string; storyboard?: string },
) {
  await ctx.long(i, {
    ephemeral: form.ephemeral,
    build: async (): Promise<LongRequest> => ({
      ...longAsk(form.options, text),
      ...(form.image === undefined
        ? {}
        : { image: { bytes: await downloadAttachment(form.image, ctx.limits), name: form.image.name } }),
    }),
  });
}

/** One paragraph input, within Discord's modal limits (title and label ≤ 45, value ≤ 4,000). */
function storyboardModal(formId: string, prompt: string) {
  const input = new TextInputBuilder()
    .setCustomId('storyboard')
    .setLabel('One prompt per line, one line per segment')
    .setStyle(TextInputStyle.Paragraph)
    .setPlaceholder('a red circle rolls in from the left\na red circle stops in the middle')
    .setMaxLength(STORYBOARD_INPUT_MAX)
    .setRequired(true);
  if (prompt.trim() !== '') input.setValue(prompt.slice(0, STORYBOARD_INPUT_MAX));
  return new ModalBuilder()
    .setCustomId(customId(Action.Long, formId))
    .setTitle('Storyboard for /long')
    .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input));
}

/** The options given, without the ones left out. */
const defined = (o: Record<keyof LongForm['options'], number | undefined>): LongForm['options'] =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
