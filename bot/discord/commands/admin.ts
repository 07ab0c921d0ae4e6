import { randomUUID } from 'node:crypto';
import { type ChatInputCommandInteraction, MessageFlags, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { UserError } from '../../../commands/index.ts';
import type { OperatorActor } from '../../core/operator.ts';
import type { CommandContext } from '../context.ts';
import { replyError } from '../jobs.ts';
import type { SlashCommand } from './command.ts';
import { GUILD_ONLY } from './options.ts';

/**
 * `/admin`: Discord's words for the core's operator actions. Hidden from members without Manage Server (and checked
 * again when run). Who operates is Discord's to say: Manage Server makes an operator of this guild,
 * DISCORD_OPERATOR_IDS (with Manage Server) one of the whole deployment; what each may do is the core's rule, and
 * every subcommand here reaches past this guild (the shared queue, a user's quota and ban follow them everywhere).
 */
export const admin: SlashCommand = {
  data: () =>
    new SlashCommandBuilder()
      .setName('admin')
      .setDescription('Quotas, the queue and bans')
      .setContexts(GUILD_ONLY)
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
      ),
  async execute(i: ChatInputCommandInteraction, ctx: CommandContext) {
    if (!ctx.isAdmin(i)) return await replyError(i, '`/admin` needs the Manage Server permission', randomUUID());
    const sub = i.options.getSubcommand();
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const by: OperatorActor = ctx.config.DISCORD_OPERATOR_IDS.includes(i.user.id)
      ? { admin: true }
      : { admin: true, workspaceId: (await ctx.ids(i)).workspaceId };
    const target = i.options.getUser('user');
    const member = () => {
      if (target === null) throw new UserError('InvalidOption', 'pick a member');
      return { platform: 'discord' as const, externalId: target.id, displayName: target.globalName ?? target.username };
    };
    const operator = ctx.service.frontEnd.operator;
    const [done, said] =
      sub === 'pause'
        ? [await operator.pause(by), 'The queue is paused.']
        : sub === 'resume'
          ? [await operator.resume(by), 'The queue is running again.']
          : sub === 'quota'
            ? [
                await operator.setUserQuota(by, member(), i.options.getInteger('seconds', true)),
                `<@${target?.id}> now has ${i.options.getInteger('seconds', true)} GPU seconds a day.`,
              ]
            : sub === 'ban'
              ? [
                  await operator.ban(by, member(), i.options.getString('reason') ?? `banned by ${i.user.username}`),
                  `<@${target?.id}> is banned.`,
                ]
              : [await operator.unban(by, member()), `<@${target?.id}> is no longer banned.`];
    if (!done.ok)
      return await replyError(
        i,
        done.error.code === 'NotAllowed' ? `${done.error.message} (DISCORD_OPERATOR_IDS)` : done.error.message,
        randomUUID(),
      );
    if (sub === 'pause' || sub === 'resume') ctx.log.info({ by: i.user.id, sub }, 'admin queue change');
    await i.editReply(said);
  },
};
