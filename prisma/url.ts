import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PoolConfig } from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';

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

/**
 * The URL without its password, for messages and logs. Parsed as a URL, so a URL with an empty user name
 * (`postgresql://:pw@host`) or an `@` in its password is redacted too (a pattern over `user:` missed both); what does
 * not parse loses everything between `//` and its last `@`.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/?#]*@/, '//***@');
  }
}

/**
 * A function that takes the secrets of these URLs (DATABASE_URL, REDIS_URL) out of any text: each URL as written
 * becomes its redacted form, and its password, percent-encoded or decoded, becomes `***` wherever else it shows (a
 * driver may quote it, or a part of the URL, in its own words). Used on every line a bot or worker writes.
 */
export function secretScrubber(urls: readonly (string | undefined)[]): (text: string) => string {
  const replacements: [string, string][] = [];
  for (const url of urls) {
    if (url === undefined || url === '') continue;
    const redacted = redactUrl(url);
    if (redacted !== url) replacements.push([url, redacted]);
    for (const secret of passwordsOf(url)) if (secret.length >= 3) replacements.push([secret, '***']);
  }
  // Longest first, so a password that contains another secret is replaced whole.
  replacements.sort((a, b) => b[0].length - a[0].length);
  return (text) => replacements.reduce((out, [secret, mask]) => out.split(secret).join(mask), text);
}

function passwordsOf(url: string): string[] {
  let raw: string | undefined;
  try {
    raw = new URL(url).password;
  } catch {
    raw = /\/\/[^/?#]*?:([^/?#]*)@/.exec(url)?.[1];
  }
  if (raw === undefined || raw === '') return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {}
  return [...new Set([raw, decoded])];
}
