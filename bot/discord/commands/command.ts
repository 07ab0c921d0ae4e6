import type {
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  MessageContextMenuCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
  RESTPostAPIContextMenuApplicationCommandsJSONBody,
} from 'discord.js';
import type { CommandContext } from '../context.ts';

/** What a command's definition depends on: the model pack's frame counts and sizes become its choices. */
export interface PackChoices {
  frameCounts: readonly number[];
  sizes?: readonly (readonly [number, number])[];
}

/**
 * One slash command, discord.js's `{ data, execute }`: `data` builds its definition (a `SlashCommandBuilder`; a
 * function of the pack, whose frame counts and sizes are its choices), `execute` translates an interaction into
 * the core's request. `autocomplete` answers its autocompleted options.
 */
export interface SlashCommand {
  data(pack: PackChoices): { readonly name: string; toJSON(): RESTPostAPIChatInputApplicationCommandsJSONBody };
  execute(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void>;
  autocomplete?(i: AutocompleteInteraction, ctx: CommandContext): Promise<void>;
}

/** One message context-menu command, in the same shape. */
export interface MenuCommand {
  data(): { readonly name: string; toJSON(): RESTPostAPIContextMenuApplicationCommandsJSONBody };
  execute(i: MessageContextMenuCommandInteraction, ctx: CommandContext): Promise<void>;
}
