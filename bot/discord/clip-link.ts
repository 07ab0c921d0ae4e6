import { type Client, type Interaction, PermissionFlagsBits, Routes } from 'discord.js';
import { UserError } from '../../commands/index.ts';
import { Action, parseCustomId } from './custom-id.ts';

/**
 * A clip id from an id, an autocomplete value, or a link to one of our result messages; for a link, the channel
 * it is in (checked readable by this member), which the core then counts as a conversation they see.
 */
export async function resolveClip(
  client: Client,
  i: Interaction,
  value: string,
): Promise<{ clipId: string; seenIn?: string }> {
  const link = /channels\/(\d+|@me)\/(\d+)\/(\d+)/.exec(value);
  if (link === null) return { clipId: value.trim() };
  const [, guildId = '', channelId = '', messageId = ''] = link;
  // The bot reads the link with its own access: first make sure the member could read it themselves ([13] #5).
  if (!(await canRead(client, i, guildId, channelId)))
    throw new UserError(
      'NotAllowed',
      'you cannot read the channel that link points to, so I will not open it for you; link a clip from a channel you can see',
    );
  const message = (await client.rest.get(Routes.channelMessage(channelId, messageId)).catch(() => null)) as {
    components?: { components?: { custom_id?: string }[] }[];
  } | null;
  const found = clipIdIn(message?.components ?? []);
  if (found === undefined)
    throw new UserError('NotFound', 'that link is not to one of my results with an Extend button');
  return { clipId: found, seenIn: channelId };
}

/** Whether this member may view the channel and read its history, from the guild's roles and the overwrites. */
async function canRead(client: Client, i: Interaction, guildId: string, channelId: string): Promise<boolean> {
  if (i.guildId === null || guildId !== i.guildId) return false;
  try {
    const guild = await client.guilds.fetch(guildId);
    const [member, channel] = await Promise.all([guild.members.fetch(i.user.id), guild.channels.fetch(channelId)]);
    if (channel === null) return false;
    return (
      channel.permissionsFor(member).has([PermissionFlagsBits.ViewChannel, PermissionFlagsBits.ReadMessageHistory]) ===
      true
    );
  } catch {
    // Unknown channel, not a member, no access for the bot: all mean "not readable by them".
    return false;
  }
}

/** The clip id in a result message's components (the Extend button's `v1:extend:<clipId>`). */
export function clipIdIn(rows: { components?: { custom_id?: string }[] }[]): string | undefined {
  for (const row of rows)
    for (const component of row.components ?? []) {
      const parsed = parseCustomId(component.custom_id ?? '');
      if (parsed?.action === Action.Extend) return parsed.id;
    }
  return undefined;
}
