import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PoolConfig } from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { redactUrl } from '../commands/secrets.ts';

/** The database a URL names: a SQLite file (`file:`), or a PostgreSQL server (`postgres://`, `postgresql://`). */
export type DatabaseTarget =
  | { provider: 'sqlite'; url: string /** absolute path, or `:memory:` */; path: string }
  | { provider: 'postgresql'; url: string };

/** The embedded default: a SQLite file under `./data`, resolved against the working directory. */
export const DEFAULT_DATABASE_URL = 'file:./data/pusa.db';

/**
 * Picks the provider from the URL scheme. SQLite paths are resolved against `process.cwd()` (as Prisma does) and
 * may not carry a query string: a URL's options would differ between the store, the migrations and the docs.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith('file:')) {
    const raw = url.slice('file:'.length);
    if (raw.includes('?')) throw new TypeError(`SQLite URLs take no query string: ${url}`);
    if (raw.length === 0) throw new TypeError(`SQLite URL without a path: ${url}`);
    return { provider: 'sqlite', url, path: raw === ':memory:' ? raw : resolve(raw) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { provider: 'postgresql', url };
  throw new TypeError(
    `Unsupported DATABASE_URL ${redactUrl(url)}: use file:./path.db (SQLite) or postgresql://… (PostgreSQL)`,
  );
}

/**
 * The URL libSQL opens for a resolved SQLite path. libSQL percent-decodes `file:` URLs and reads `?…` as its own
 * options, so the path is percent-encoded (a folder named `50% #1` stays that folder); `:memory:` stays in memory.
 */
export function libsqlUrl(path: string): string {
  return path === ':memory:' ? 'file::memory:' : pathToFileURL(path).href;
}

/**
 * node-postgres settings from discrete fields, never `connectionString`: node-postgres lets a connection string
 * override `database`, which breaks Prisma's shadow databases (spec bug 5b).
 */
export function pgConfig(url: string, overrides: PoolConfig = {}): PoolConfig {
  const parsed = parseIntoClientConfig(url);
  const config: PoolConfig = { connectionTimeoutMillis: 5_000, ...overrides };
  for (const [key, value] of Object.entries(parsed)) {
    if (value !== null && value !== undefined && key !== 'connectionString') {
      (config as Record<string, unknown>)[key] = value;
    }
  }
  return config;
}

export { redactUrl, secretScrubber } from '../commands/secrets.ts';
