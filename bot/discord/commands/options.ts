import {
  type ChatInputCommandInteraction,
  InteractionContextType,
  type SlashCommandBooleanOption,
  type SlashCommandIntegerOption,
} from 'discord.js';
import type { PackChoices } from './command.ts';

/** The longest prompt a command accepts (the core's limit is checked again). */
export const PROMPT_MAX = 500;

/** Every command is used in a server: a direct message has no workspace to budget. */
export const GUILD_ONLY = [InteractionContextType.Guild];

/** The `seed` option every generating command offers. */
export const seedOption = (o: SlashCommandIntegerOption) =>
  o
    .setName('seed')
    .setDescription('Seed, to reproduce a clip')
    .setMinValue(0)
    .setMaxValue(2 ** 32 - 1);

/** The `frames` option: the pack's frame counts as choices (Discord takes at most 25). */
export const framesOption = (pack: PackChoices) => (o: SlashCommandIntegerOption) =>
  o
    .setName('frames')
    .setDescription('Clip length in frames')
    .addChoices(...pack.frameCounts.slice(0, 25).map((n) => ({ name: `${n} frames`, value: n })));

export const privateOption = (o: SlashCommandBooleanOption) =>
  o.setName('private').setDescription('Only you see the result');

/** The options generating commands share, as the request's fields (absent when not given). */
export function commonOptions(i: ChatInputCommandInteraction) {
  const steps = i.options.getInteger('steps');
  const seed = i.options.getInteger('seed');
  const frames = i.options.getInteger('frames');
  // Only /t2v offers a size; its choices come from the pack, and the core checks them again.
  const size = i.commandName === 't2v' ? /^(\d+)x(\d+)$/.exec(i.options.getString('size') ?? '') : null;
  return {
    ...(steps === null ? {} : { steps }),
    ...(seed === null ? {} : { seed }),
    ...(frames === null ? {} : { frames }),
    ...(size === null ? {} : { size: [Number(size[1]), Number(size[2])] as [number, number] }),
  };
}
