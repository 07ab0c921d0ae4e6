import type { RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';
import { admin } from './admin.ts';
import { animate } from './animate.ts';
import { animateThisImage } from './animate-this-image.ts';
import { cancel } from './cancel.ts';
import type { MenuCommand, PackChoices, SlashCommand } from './command.ts';
import { extend } from './extend.ts';
import { extendThisClip } from './extend-this-clip.ts';
import { history } from './history.ts';
import { keyframes } from './keyframes.ts';
import { long } from './long.ts';
import { quota } from './quota.ts';
import { t2v } from './t2v.ts';
import { transition } from './transition.ts';

export type { MenuCommand, PackChoices, SlashCommand } from './command.ts';

/** Every slash command, in the order they are registered (and listed in Discord's picker). A new one: a file, a line. */
export const SLASH_COMMANDS: readonly SlashCommand[] = [
  t2v,
  animate,
  keyframes,
  extend,
  transition,
  long,
  quota,
  history,
  cancel,
  admin,
];

/** Every message context-menu command. */
export const MENU_COMMANDS: readonly MenuCommand[] = [animateThisImage, extendThisClip];

/** Every application command as Discord's JSON, for `npm run discord:register`. */
export function buildCommands(pack: PackChoices): RESTPostAPIApplicationCommandsJSONBody[] {
  return [...SLASH_COMMANDS.map((c) => c.data(pack).toJSON()), ...MENU_COMMANDS.map((c) => c.data().toJSON())];
}

/** The commands by the name Discord sends with an interaction (the discord.js guide's `client.commands`). */
export function commandsByName(pack: PackChoices) {
  return {
    slash: new Map(SLASH_COMMANDS.map((c) => [c.data(pack).name, c])),
    menu: new Map(MENU_COMMANDS.map((c) => [c.data().name, c])),
  };
}
