import { randomUUID } from 'node:crypto';
import type { Interaction } from 'discord.js';
import { classify } from '../core/errors.ts';
import { suggestClips } from './commands/clip-choices.ts';
import { commandsByName } from './commands/index.ts';
import { createComponentHandlers } from './components.ts';
import { createCommandContext, type DiscordDeps } from './context.ts';
import { replyError } from './jobs.ts';

/**
 * Routes every interaction to its command (by name), button or modal. Each defers before anything slow (downloads,
 * database, queue) and hands the work to the front-end core; refusals are ephemeral, specific and carry the request
 * id, and anything unexpected is logged and answered once here.
 */
export function createInteractionHandler(deps: DiscordDeps) {
  const ctx = createCommandContext(deps);
  const { manifest } = deps.service.pack;
  const commands = commandsByName({ frameCounts: manifest.video.frameCounts, sizes: manifest.video.sizes });
  const components = createComponentHandlers(ctx);

  async function route(i: Interaction): Promise<void> {
    if (i.isAutocomplete()) {
      const command = commands.slash.get(i.commandName);
      return await (command?.autocomplete ?? suggestClips)(i, ctx);
    }
    if (i.isButton()) return await components.button(i);
    if (i.isModalSubmit()) return await components.modal(i);
    if (i.isMessageContextMenuCommand()) {
      const menu = commands.menu.get(i.commandName);
      if (menu !== undefined) return await menu.execute(i, ctx);
    }
    if (i.isChatInputCommand()) {
      const command = commands.slash.get(i.commandName);
      if (command !== undefined) return await command.execute(i, ctx);
    }
    if (i.isRepliable())
      await replyError(i, 'I do not know that command; it may be from an older version', randomUUID());
  }

  return async function handleInteraction(i: Interaction): Promise<void> {
    try {
      await route(i);
    } catch (error) {
      // The core decides what the user reads (bot/core/errors.ts); only what is not theirs to fix is logged.
      const verdict = classify(error);
      if (verdict.kind !== 'refused')
        deps.log[verdict.kind === 'unavailable' ? 'warn' : 'error'](
          { requestId: verdict.errorId, interactionId: i.id, kind: verdict.kind, err: (error as Error).message },
          'interaction failed',
        );
      await replyError(i, verdict.message, verdict.errorId).catch(() => undefined);
    }
  };
}
