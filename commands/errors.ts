/** Reasons a request is refused that the person who sent it can act on. */
export const UserErrorCode = {
  InvalidOption: 'InvalidOption',
  InvalidInput: 'InvalidInput',
  QuotaExceeded: 'QuotaExceeded',
  QueueFull: 'QueueFull',
  Banned: 'Banned',
  BlockedPrompt: 'BlockedPrompt',
  NotFound: 'NotFound',
  NotAllowed: 'NotAllowed',
  Unavailable: 'Unavailable',
  Paused: 'Paused',
  UnsupportedVersion: 'UnsupportedVersion',
} as const;
export type UserErrorCode = (typeof UserErrorCode)[keyof typeof UserErrorCode];

/**
 * An error meant for the end user: `message` is safe to show as it is, `context` carries details for logs. Adapters
 * turn it into an ephemeral reply with the request id.
 */
export class UserError extends Error {
  readonly code: UserErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: UserErrorCode, message: string, context: Record<string, unknown> = {}) {
    super(message);
    this.name = 'UserError';
    this.code = code;
    this.context = context;
  }
}

/** Parts of the service a request depends on that can be away for a while; none of them is the user's doing. */
export const InfrastructureErrorCode = {
  DatabaseUnavailable: 'DatabaseUnavailable',
  QueueUnavailable: 'QueueUnavailable',
  PlatformUnavailable: 'PlatformUnavailable',
  /** A connection failed and nothing says to what (a bare ECONNREFUSED, a fetch timeout). */
  NetworkUnavailable: 'NetworkUnavailable',
} as const;
export type InfrastructureErrorCode = (typeof InfrastructureErrorCode)[keyof typeof InfrastructureErrorCode];

/**
 * A dependency (database, queue, chat platform) cannot be used right now: the request may succeed when tried again,
 * so callers that retry (deliveries) retry, and users are told "temporarily unavailable". `cause` is what failed;
 * `message` is for logs, never shown (bot/core/errors.ts `classify` decides what the user reads).
 */
export class InfrastructureError extends Error {
  readonly code: InfrastructureErrorCode;

  constructor(code: InfrastructureErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InfrastructureError';
    this.code = code;
  }
}

/** Parsing user input returns a result rather than throwing (sapphire's `Result` idea, no library). */
export type Parsed<TValue> =
  | { readonly ok: true; readonly value: TValue }
  | { readonly ok: false; readonly error: UserError };
