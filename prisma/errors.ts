import { InfrastructureError } from '../commands/errors.ts';

/**
 * The store cannot reach its database right now (server down, connection refused or lost, pool exhausted, SQLite
 * file not openable or locked). Callers answer "try again in a moment" and carry on; the cause says what happened.
 */
export class StoreUnavailableError extends InfrastructureError {
  override readonly name = 'StoreUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('DatabaseUnavailable', message, options);
  }
}

/** Prisma error codes that mean the database could not be reached or used right now. */
const UNAVAILABLE_PRISMA_CODES = new Set([
  'P1000', // authentication failed (e.g. during a password rotation)
  'P1001', // can't reach database server
  'P1002', // server reached but timed out
  'P1003', // database does not exist
  'P1008', // operations timed out
  'P1010', // access denied
  'P1011', // TLS error
  'P1017', // server closed the connection
  'P2024', // timed out fetching a connection from the pool
  'P2028', // transaction API error (e.g. the transaction could not be started in time)
  'P2034', // write conflict or deadlock: retry
]);

/** Driver-adapter error kinds with the same meaning. */
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'DatabaseDoesNotExist',
  'DatabaseAccessDenied',
  'ConnectionClosed',
  'TlsConnectionError',
  'AuthenticationFailed',
  'TooManyConnections',
  'SocketTimeout',
  'TransactionWriteConflict',
  'TransactionAlreadyClosed',
]);

/** Node and SQLite error codes with the same meaning. */
const UNAVAILABLE_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'ENOENT',
  'ENOSPC',
  'SQLITE_CANTOPEN',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_READONLY',
  'SQLITE_READONLY_DIRECTORY',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  '57P01', // PostgreSQL: admin shutdown
  '57P02', // crash shutdown
  '57P03', // cannot connect now (starting up)
  '53300', // too many connections
  '08000', // connection exception
  '08001',
  '08003',
  '08004',
  '08006',
  '40001', // serialization failure: retry
  '40P01', // deadlock detected: retry
]);

const UNAVAILABLE_MESSAGES = [
  /Can't reach database server/i,
  /Connection terminated/i,
  /connection (?:refused|closed|timeout)/i,
  /timeout exceeded when trying to connect/i,
  /Transaction already closed/i,
  /Unable to start a transaction in the given time/i,
  /unable to open database file/i,
  /Cannot open database because the directory does not exist/i,
  /database is locked/i,
  /readonly database/i,
  /the database system is (?:starting up|shutting down)/i,
  /terminating connection due to administrator command/i,
];

/** True when `error` (or anything in its cause chain) says the database is unreachable or busy, not a bug. */
export function isUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && current !== undefined && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const record = current as {
      code?: unknown;
      kind?: unknown;
      cause?: unknown;
      message?: unknown;
      errorCode?: unknown;
    };
    if (current instanceof StoreUnavailableError) return true;
    for (const code of [record.code, record.errorCode]) {
      if (typeof code === 'string' && (UNAVAILABLE_PRISMA_CODES.has(code) || UNAVAILABLE_SYSTEM_CODES.has(code))) {
        return true;
      }
    }
    if (typeof record.kind === 'string' && UNAVAILABLE_ADAPTER_KINDS.has(record.kind)) return true;
    if (
      typeof record.message === 'string' &&
      UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(record.message as string))
    ) {
      return true;
    }
    current = record.cause;
  }
  return false;
}

/**
 * One line for an operator when the database cannot be used at start-up (the bot's migrate step), naming the
 * redacted URL and the setting to fix; undefined when the error is not about reaching or logging in to it.
 */
export function databaseProblem(error: unknown, redactedUrl: string): string | undefined {
  const where = `the database at ${redactedUrl}`;
  const text = messagesOf(error);
  if (/P1000|28P01|Authentication failed|password authentication failed|AuthenticationFailed/i.test(text))
    return `${where} refused the user name or password in DATABASE_URL; correct DATABASE_URL`;
  if (isUnavailable(error)) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.split(': ').at(-1);
    return `${where} is not reachable (${reason}); start it or correct DATABASE_URL`;
  }
  return undefined;
}

/** Every message and code in an error's cause chain, for matching. */
function messagesOf(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const record = current as { message?: unknown; code?: unknown; kind?: unknown; cause?: unknown };
    for (const value of [record.message, record.code, record.kind]) if (typeof value === 'string') parts.push(value);
    current = record.cause;
  }
  return parts.join('\n');
}
