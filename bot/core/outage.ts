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
 * The answer a user gets for an outage: the database or the queue unreachable, said in words safe to show (never a
 * driver's message, which can name hosts, users or SQL). Undefined for any other error, which stays a bug (500).
 */
export function outageOf(error: unknown): UserError | undefined {
  if (error instanceof UserError) return error.code === 'Unavailable' ? error : undefined;
  if (error instanceof QueueUnavailableError) return new UserError('Unavailable', QUEUE_UNAVAILABLE);
  const message = error instanceof Error ? error.message : '';
  if (
    (error as { name?: string } | null)?.name === 'MaxRetriesPerRequestError' ||
    REDIS_DOWN.some((p) => p.test(message))
  )
    return new UserError('Unavailable', QUEUE_UNAVAILABLE);
  if (isUnavailable(error)) return new UserError('Unavailable', DATABASE_UNAVAILABLE);
  return undefined;
}
