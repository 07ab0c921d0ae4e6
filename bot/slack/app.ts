import type { App } from '@slack/bolt';
import { registerActions } from './actions.ts';
import { registerAdmin } from './admin.ts';
import { registerCommands } from './commands.ts';
import { registerErrorHandler } from './errors.ts';
import { createKit, type SlackDeps } from './kit.ts';
import { requesterMiddleware } from './requester.ts';
import { registerShortcuts } from './shortcuts.ts';
import { registerViews } from './views.ts';

export type { PostedJob, SlackLog } from './kit.ts';
export { clipIdOf } from './shortcuts.ts';

/**
 * Registers every Slack entry point on `app` (built with `extendedErrorHandler: true`); the jobs it posts are
 * recorded in `posted`. One middleware builds the requester into `context`, the listeners translate, and one error
 * handler answers whatever they throw.
 */
export function registerHandlers(app: App, deps: SlackDeps): void {
  const kit = createKit(deps);
  app.use(requesterMiddleware(deps.service));
  registerErrorHandler(app, kit);
  registerCommands(app, kit);
  registerAdmin(app, kit);
  registerViews(app, kit);
  registerShortcuts(app, kit);
  registerActions(app, kit);
}
