import { randomUUID } from 'node:crypto';
import {
  InfrastructureError,
  type InfrastructureErrorCode,
  UserError,
  type UserErrorCode,
} from '../../commands/index.ts';
import { DATABASE_UNAVAILABLE, outageKind, QUEUE_UNAVAILABLE } from './outage.ts';

/**
 * What every front end does with an error, decided here once:
 * - `refused`: the user can fix it (`UserError`); its message is shown as it is;
 * - `unavailable`: a dependency is away (`InfrastructureError`, the store's `StoreUnavailableError` among them, or a
 *   Slack, Discord or Redis client's error that means the same); the user
 *   is told to try again, and a caller that retries (deliveries) retries;
 * - `failed`: anything else, a bug; the user gets a generic message with `errorId`, which the caller logs.
 * `errorId` is what the user quotes and the log line carries, on every kind.
 */
export type ErrorVerdict =
  | { kind: 'refused'; code: UserErrorCode; message: string; retry: boolean; errorId: string }
  | { kind: 'unavailable'; code: InfrastructureErrorCode; message: string; retry: true; errorId: string }
  | { kind: 'failed'; message: string; retry: true; errorId: string };

export const UNAVAILABLE_MESSAGE =
  'the service is temporarily unavailable; nothing was queued or charged. Please try again in a minute.';
export const FAILED_MESSAGE = 'something went wrong on our side; nothing was charged';

/** The words for an outage: which part is away when it is ours (bot/core/outage.ts), else the general ones. */
export function unavailableMessage(code: InfrastructureErrorCode): string {
  return code === 'QueueUnavailable'
    ? QUEUE_UNAVAILABLE
    : code === 'DatabaseUnavailable'
      ? DATABASE_UNAVAILABLE
      : UNAVAILABLE_MESSAGE;
}

export function classify(error: unknown, errorId: string = randomUUID()): ErrorVerdict {
  const known = find(error);
  if (known instanceof UserError)
    // The core's own "try again" answers (queue unreachable, a download that timed out) are UserErrors with a
    // message made for the case; a retrying caller may still retry them.
    return { kind: 'refused', code: known.code, message: known.message, retry: known.code === 'Unavailable', errorId };
  const code = known instanceof InfrastructureError ? known.code : (infrastructureCode(error) ?? ownOutage(error));
  if (code !== undefined) return { kind: 'unavailable', code, message: unavailableMessage(code), retry: true, errorId };
  return { kind: 'failed', message: FAILED_MESSAGE, retry: true, errorId };
}

/** The first UserError or InfrastructureError in `error`'s cause chain. */
function find(error: unknown): UserError | InfrastructureError | undefined {
  for (const link of chain(error)) if (link instanceof UserError || link instanceof InfrastructureError) return link;
  return undefined;
}

function* chain(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  for (let at = error; typeof at === 'object' && at !== null && !seen.has(at); at = (at as { cause?: unknown }).cause) {
    seen.add(at);
    yield at;
  }
}

/** Slack Web API answers that say Slack, not the request, is the problem. */
const SLACK_TRANSIENT = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The libraries' own ways of saying "unavailable" (their errors reach us unwrapped), or undefined. */
function infrastructureCode(error: unknown): InfrastructureErrorCode | undefined {
  for (const link of chain(error)) {
    const e = link as { name?: unknown; code?: unknown; message?: unknown; status?: unknown; statusCode?: unknown };
    const data = (link as { data?: { error?: unknown } }).data;
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 0;
    // @slack/web-api: network failure, 429 past the retries, 5xx, or a platform error that is Slack's own trouble.
    if (e.code === 'slack_webapi_request_error' || e.code === 'slack_webapi_rate_limited_error')
      return 'PlatformUnavailable';
    if (e.code === 'slack_webapi_http_error' && status >= 500) return 'PlatformUnavailable';
    if (e.code === 'slack_webapi_platform_error' && typeof data?.error === 'string' && SLACK_TRANSIENT.has(data.error))
      return 'PlatformUnavailable';
    // discord.js REST: 5xx answers and rate limits it gave up on.
    if ((e.name === 'DiscordAPIError' || e.name === 'HTTPError') && status >= 500) return 'PlatformUnavailable';
    if (e.name === 'RateLimitError') return 'PlatformUnavailable';
    if (e.name === 'TimeoutError' || (typeof e.code === 'string' && NETWORK_CODES.has(e.code)))
      return 'NetworkUnavailable';
  }
  return undefined;
}

/** Our own queue or database away (bot/core/outage.ts reads ioredis', BullMQ's and the store's words for it). */
function ownOutage(error: unknown): InfrastructureErrorCode | undefined {
  const kind = outageKind(error);
  return kind === 'queue' ? 'QueueUnavailable' : kind === 'database' ? 'DatabaseUnavailable' : undefined;
}
