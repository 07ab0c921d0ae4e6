import type { AutocompleteInteraction } from 'discord.js';
import type { CommandContext } from '../context.ts';

/** Autocomplete for an option naming a clip: the member's recent clips whose id contains what they typed. */
export async function suggestClips(i: AutocompleteInteraction, ctx: CommandContext): Promise<void> {
  const focused = i.options.getFocused(true);
  const { userId } = await ctx.ids(i);
  const clips = await ctx.service.frontEnd.recentClips(userId, 25);
  const text = String(focused.value).toLowerCase();
  await i.respond(
    clips
      .filter((c) => c.id.toLowerCase().includes(text) || text === '')
      .map((c) => ({
        name: `${c.createdAt.toISOString().slice(0, 16).replace('T', ' ')} · seed ${c.seed} · ${c.frames} frames`,
        value: c.id,
      })),
  );
}
