import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  PermissionFlagsBits,
  type RESTPostAPIApplicationCommandsJSONBody,
  SlashCommandBuilder,
  type SlashCommandIntegerOption,
} from 'discord.js';

/** Names of the message context-menu commands; handlers match on these. */
export const MenuName = { Animate: 'Animate this image', Extend: 'Extend this clip' } as const;

/** Motion levels of `/animate`: how much the conditioning frame may change (the noise multiplier). */
export const MOTION = { still: 0, low: 0.15, medium: 0.35, high: 0.6 } as const;
export type Motion = keyof typeof MOTION;

const PROMPT_MAX = 500;

/**
 * Every application command as Discord's JSON: slash commands with ranges and choices, the two message context
 * menus, and `/admin`, hidden from members without Manage Server (and checked again when run).
 */
export function buildCommands(pack: {
  frameCounts: readonly number[];
  sizes?: readonly (readonly [number, number])[];
}): RESTPostAPIApplicationCommandsJSONBody[] {
  const frames = pack.frameCounts.slice(0, 25).map((n) => ({ name: `${n} frames`, value: n }));
  const sizes = (pack.sizes ?? []).slice(0, 25).map(([w, h]) => ({ name: `${w}×${h}`, value: `${w}x${h}` }));
  const guildOnly = [InteractionContextType.Guild];
  // The same two options on every generating command.
  const seedOption = (o: SlashCommandIntegerOption) =>
    o
      .setName('seed')
      .setDescription('Seed, to reproduce a clip')
      .setMinValue(0)
      .setMaxValue(2 ** 32 - 1);
  const framesOption = (o: SlashCommandIntegerOption) =>
    o
      .setName('frames')
      .setDescription('Clip length in frames')
      .addChoices(...frames);
  const t2v = new SlashCommandBuilder()
    .setName('t2v')
    .setDescription('Generate a video from text')
    .setContexts(guildOnly)
    .addStringOption((o) =>
      o.setName('prompt').setDescription('What happens in the clip').setRequired(true).setMaxLength(PROMPT_MAX),
    )
    .addStringOption((o) => o.setName('negative').setDescription('What to avoid').setMaxLength(PROMPT_MAX))
    .addIntegerOption((o) => o.setName('steps').setDescription('Denoising steps (1-50)').setMinValue(1).setMaxValue(50))
    .addIntegerOption(seedOption)
    .addIntegerOption(framesOption)
    .addStringOption((o) => {
      const option = o.setName('size').setDescription('Output size (width × height)');
      return sizes.length > 0 ? option.addChoices(...sizes) : option;
    })
    .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));
  const animate = new SlashCommandBuilder()
    .setName('animate')
    .setDescription('Animate an image')
    .setContexts(guildOnly)
    .addAttachmentOption((o) => o.setName('image').setDescription('PNG, JPEG or WebP').setRequired(true))
    .addStringOption((o) => o.setName('prompt').setDescription('What happens in the clip').setMaxLength(PROMPT_MAX))
    .addStringOption((o) =>
      o
        .setName('motion')
        .setDescription('How far the clip may move away from the image')
        .addChoices(...Object.keys(MOTION).map((m) => ({ name: m, value: m }))),
    )
    .addIntegerOption(seedOption)
    .addIntegerOption(framesOption)
    .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));
  const keyframes = new SlashCommandBuilder()
    .setName('keyframes')
    .setDescription('A clip through key images: start, optional middle, end')
    .setContexts(guildOnly)
    .addAttachmentOption((o) => o.setName('start').setDescription('First frame').setRequired(true))
    .addAttachmentOption((o) => o.setName('end').setDescription('Last frame').setRequired(true))
    .addStringOption((o) =>
      o.setName('prompt').setDescription('What happens').setRequired(true).setMaxLength(PROMPT_MAX),
    )
    .addAttachmentOption((o) => o.setName('middle').setDescription('Middle frame'))
    .addIntegerOption(seedOption)
    .addIntegerOption(framesOption);
  const extend = new SlashCommandBuilder()
    .setName('extend')
    .setDescription('Continue one of your clips')
    .setContexts(guildOnly)
    .addStringOption((o) =>
      o.setName('clip').setDescription('A clip id or a link to a result').setRequired(true).setAutocomplete(true),
    )
    .addStringOption((o) => o.setName('prompt').setDescription('What happens next').setMaxLength(PROMPT_MAX));
  const transition = new SlashCommandBuilder()
    .setName('transition')
    .setDescription('A clip that joins two of your clips')
    .setContexts(guildOnly)
    .addStringOption((o) => o.setName('from').setDescription('First clip').setRequired(true).setAutocomplete(true))
    .addStringOption((o) => o.setName('to').setDescription('Second clip').setRequired(true).setAutocomplete(true))
    .addStringOption((o) => o.setName('prompt').setDescription('What happens between').setMaxLength(PROMPT_MAX));
  const quota = new SlashCommandBuilder().setName('quota').setDescription('Your GPU time today').setContexts(guildOnly);
  const history = new SlashCommandBuilder()
    .setName('history')
    .setDescription('Your recent requests')
    .setContexts(guildOnly)
    .addIntegerOption((o) => o.setName('count').setDescription('How many (1-10)').setMinValue(1).setMaxValue(10));
  const cancel = new SlashCommandBuilder()
    .setName('cancel')
    .setDescription('Cancel a queued or running request')
    .setContexts(guildOnly)
    .addStringOption((o) => o.setName('job').setDescription('Which one (default: your newest)').setAutocomplete(true));
  const admin = new SlashCommandBuilder()
    .setName('admin')
    .setDescription('Quotas, the queue and bans')
    .setContexts(guildOnly)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .addSubcommand((s) =>
      s
        .setName('quota')
        .setDescription("Set a member's daily GPU seconds")
        .addUserOption((o) => o.setName('user').setDescription('Member').setRequired(true))
        .addIntegerOption((o) =>
          o
            .setName('seconds')
            .setDescription('GPU seconds per day')
            .setRequired(true)
            .setMinValue(0)
            .setMaxValue(86_400),
        ),
    )
    .addSubcommand((s) => s.setName('pause').setDescription('Stop workers from starting queued jobs'))
    .addSubcommand((s) => s.setName('resume').setDescription('Let workers start queued jobs again'))
    .addSubcommand((s) =>
      s
        .setName('ban')
        .setDescription('Ban a member from generating')
        .addUserOption((o) => o.setName('user').setDescription('Member').setRequired(true))
        .addStringOption((o) => o.setName('reason').setDescription('Shown to them').setMaxLength(200)),
    )
    .addSubcommand((s) =>
      s
        .setName('unban')
        .setDescription('Lift a ban')
        .addUserOption((o) => o.setName('user').setDescription('Member').setRequired(true)),
    );
  const menus = [MenuName.Animate, MenuName.Extend].map((name) =>
    new ContextMenuCommandBuilder()
      .setName(name)
      .setType(ApplicationCommandType.Message)
      .setContexts(guildOnly)
      .toJSON(),
  );
  return [
    ...[t2v, animate, keyframes, extend, transition, quota, history, cancel, admin].map((c) => c.toJSON()),
    ...menus,
  ];
}
