import { UserError } from '../../commands/index.ts';
import { isUnavailable } from '../../prisma/errors.ts';

/** What an HTTP front end sends as Retry-After while the database or the queue is away, and what replies promise. */
export const OUTAGE_RETRY_AFTER_SECONDS = 60;

export const QUEUE_UNAVAILABLE =
  'the queue is unavailable right now (nothing was queued or charged); please try again in a minute';
export const DATABASE_UNAVAILABLE =
  'the bot cannot reach its database right now (nothing was queued or charged); please try again in a minute';

/** Redis (the queue) is not connected: raised before any work instead of waiting for it to come back. */
export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
}

/** ioredis' and BullMQ's words for a connection that is down (none of them says which server: this one does). */
const REDIS_DOWN = [/Connection is closed/i, /Stream isn't writeable/i, /Reached the max retries per request limit/i];

/**
 * Which of our own parts an error says is away — the queue (Redis) or the database — looking down its cause chain, or
 * undefined. The one place that reads ioredis', BullMQ's and the store's words for it; `outageOf` and
 * bot/core/errors.ts `classify` both answer from it.
 */
export function outageKind(error: unknown): 'queue' | 'database' | undefined {
  const seen = new Set<unknown>();
  for (let at = error; typeof at === 'object' && at !== null && !seen.has(at); at = (at as { cause?: unknown }).cause) {
    seen.add(at);
    if (at instanceof QueueUnavailableError) return 'queue';
    const { name, message } = at as { name?: unknown; message?: unknown };
    if (name === 'MaxRetriesPerRequestError') return 'queue';
    if (typeof message === 'string' && REDIS_DOWN.some((p) => p.test(message))) return 'queue';
  }
  return isUnavailable(error) ? 'database' : undefined;
}

/**
 * The answer a user gets for an outage: the database or the queue unreachable, said in words safe to show (never a
 * driver's message, which can name hosts, users or SQL). Undefined for any other error, which stays a bug (500).
 */
export function outageOf(error: unknown): UserError | undefined {
  if (error instanceof UserError) return error.code === 'Unavailable' ? error : undefined;
  const kind = outageKind(error);
  if (kind === undefined) return undefined;
  return new UserError('Unavailable', kind === 'queue' ? QUEUE_UNAVAILABLE : DATABASE_UNAVAILABLE);
}
