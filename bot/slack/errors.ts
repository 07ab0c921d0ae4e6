import type { App } from '@slack/bolt';
import { classify } from '../core/errors.ts';
import type { SlackKit } from './kit.ts';
import { errorText } from './render.ts';
import type { Requester } from './requester.ts';

/** Bolt's extended error handler (its last `app.error` overload; the type itself is not exported). */
type ExtendedErrorHandler = Parameters<App['error']>[0];

/**
 * The one place a listener's failure goes (Bolt's `app.error`, with `extendedErrorHandler` for the context): the
 * core's `classify` decides what the user reads, and the user reads it once, privately, where they asked (an
 * ephemeral message, else the payload's response_url, else a DM). Failures that are not the user's are logged
 * with the id the user is shown.
 */
export function registerErrorHandler(app: App, kit: Pick<SlackKit, 'log' | 'tell'>): void {
  const answer: ExtendedErrorHandler = async ({ error, context, body }) => {
    // Bolt wraps an error without a `code` in its UnknownError; classify the listener's own.
    const thrown = (error as { original?: unknown }).original ?? error;
    const verdict = classify(thrown);
    const requester = context['requester'] as Requester | undefined;
    if (verdict.kind !== 'refused')
      kit.log.warn(
        {
          errorId: verdict.errorId,
          kind: verdict.kind,
          ...(verdict.kind === 'unavailable' ? { code: verdict.code } : {}),
          type: (body as { type?: unknown }).type ?? 'slash_command',
          err: (thrown as Error).message,
        },
        'slack handler failed',
      );
    if (requester === undefined) return;
    await kit.tell(app.client, requester, errorText(verdict.message, verdict.errorId));
  };
  app.error(answer);
}
