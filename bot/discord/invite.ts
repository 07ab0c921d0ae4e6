import { OAuth2Scopes, PermissionFlagsBits } from 'discord.js';

/**
 * The channel permissions the bot uses, each for a reason. Interaction replies (the usual path) need none of them;
 * they matter once an interaction's token has expired (15 min) or when a command names a message by its link.
 */
export const DISCORD_BOT_PERMISSIONS = {
  /** See the channels it is asked in, to post and edit there. */
  ViewChannel: PermissionFlagsBits.ViewChannel,
  /** Post a finished clip as a new message when the interaction's token has expired (long queues). */
  SendMessages: PermissionFlagsBits.SendMessages,
  /** The same, for commands used inside a thread. */
  SendMessagesInThreads: PermissionFlagsBits.SendMessagesInThreads,
  /** The MP4 itself. */
  AttachFiles: PermissionFlagsBits.AttachFiles,
  /** Read a message given by its link (`/extend clip:<link>`) to find its clip. */
  ReadMessageHistory: PermissionFlagsBits.ReadMessageHistory,
} as const;

/** `bot` joins the server as a member; `applications.commands` lets it register slash commands there. */
export const DISCORD_SCOPES = [OAuth2Scopes.Bot, OAuth2Scopes.ApplicationsCommands] as const;

/** The permissions integer of the invite URL (a bitfield, as Discord's developer portal computes it). */
export function discordPermissionBits(): bigint {
  return Object.values(DISCORD_BOT_PERMISSIONS).reduce((bits, flag) => bits | flag, 0n);
}

/** The URL an operator opens to add the bot to a server, with exactly the scopes and permissions above. */
export function discordInviteUrl(applicationId: string): string {
  const query = new URLSearchParams({
    client_id: applicationId,
    scope: DISCORD_SCOPES.join(' '),
    permissions: discordPermissionBits().toString(),
  });
  return `https://discord.com/oauth2/authorize?${query}`;
}
