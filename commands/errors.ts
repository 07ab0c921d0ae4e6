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

/** Parsing user input returns a result rather than throwing (sapphire's `Result` idea, no library). */
export type Parsed<TValue> =
  | { readonly ok: true; readonly value: TValue }
  | { readonly ok: false; readonly error: UserError };
