import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createClient } from '@libsql/client';
import pg from 'pg';
import { isUnavailable, StoreUnavailableError } from './errors.ts';
import { defaultSchemaPaths, type SchemaPaths } from './paths.ts';
import { libsqlUrl, parseDatabaseUrl, pgConfig, redactUrl } from './url.ts';

/**
 * Applies the migrations the database lacks and returns their names: the bot's start path, without Prisma's schema
 * engine. The wasm engine (prisma/engine.ts, pinned to an internal interface and patched around six bugs) stays for
 * authoring — `npm run db:migrate` to create a migration, diff, status — where a Prisma upgrade may break a tool but
 * not a running service.
 *
 * It keeps Prisma's own bookkeeping, so either can follow the other: one `_prisma_migrations` row per migration with
 * the sha256 of its `migration.sql` (what `prisma migrate deploy` writes and checks). It refuses, naming the
 * migration and the fix, a migration whose file changed after it was applied, one that failed earlier and was not
 * marked rolled back, and a database migrated by a newer version (a migration this checkout does not have).
 *
 * Several processes may start at once: on SQLite the whole run is one `BEGIN IMMEDIATE` transaction (the second
 * process waits, then finds nothing to do; a failing migration leaves nothing half-applied), on PostgreSQL it holds
 * Prisma's advisory lock and applies each migration in its own transaction with its row.
 */
export async function migrateToLatest(url: string, paths?: SchemaPaths): Promise<string[]> {
  const target = parseDatabaseUrl(url);
  const migrations = readMigrations((paths ?? defaultSchemaPaths(target.provider)).migrationsDir);
  try {
    return target.provider === 'sqlite' ? await onSqlite(target.path, migrations) : await onPostgres(url, migrations);
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    if (isUnavailable(error))
      throw new StoreUnavailableError(`Cannot migrate ${redactUrl(url)}: ${(error as Error).message}`, {
        cause: error,
      });
    throw error;
  }
}

/** A migration history this checkout cannot apply; the message says which migration and what to do. */
export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

interface Migration {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
  readonly file: string;
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

function readMigrations(dir: string): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const file = join(dir, name, 'migration.sql');
      const bytes = readFileSync(file);
      return {
        name,
        sql: bytes.toString('utf8'),
        checksum: createHash('sha256').update(bytes).digest('hex'),
        file: relative(process.cwd(), file),
      };
    });
}

/** The migrations still to apply, after checking what the database already has against the files. */
function pending(migrations: readonly Migration[], rows: readonly AppliedRow[]): Migration[] {
  const live = rows.filter((row) => row.rolled_back_at === null || row.rolled_back_at === undefined);
  const known = new Map(migrations.map((m) => [m.name, m]));
  for (const row of live) {
    const file = known.get(row.migration_name);
    if (file === undefined)
      throw new MigrationError(
        `the database has migration ${row.migration_name}, which this version of pusa-bot does not have: it was migrated by a newer version; run that version (or restore its prisma/*/migrations folder)`,
      );
    if (row.finished_at === null || row.finished_at === undefined)
      throw new MigrationError(
        `migration ${row.migration_name} failed when it was applied earlier (its _prisma_migrations row has no finished_at; see its logs column): repair the database, then mark it rolled back (UPDATE _prisma_migrations SET rolled_back_at = CURRENT_TIMESTAMP WHERE migration_name = '${row.migration_name}') so it is applied again`,
      );
    if (row.checksum !== file.checksum)
      throw new MigrationError(
        `migration ${row.migration_name} was changed after it was applied (sha256 ${row.checksum.slice(0, 12)}… in the database, ${file.checksum.slice(0, 12)}… in ${file.file}): restore the file as it was and put the change in a new migration (npm run db:migrate)`,
      );
  }
  const applied = new Set(live.map((row) => row.migration_name));
  return migrations.filter((m) => !applied.has(m.name));
}

// Prisma's own table, column for column (what its engine creates), so `prisma migrate status/deploy` agree.
const SQLITE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;
const POSTGRES_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;
const ROWS = 'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"';
/** Prisma's engine takes this advisory lock for migrations on PostgreSQL: the two never run at once. */
const PRISMA_ADVISORY_LOCK = 72_707_369;
/** As Prisma's engine writes them on SQLite: ISO 8601 with milliseconds and an explicit offset. */
const sqliteNow = () => new Date().toISOString().replace('Z', '+00:00');

async function onSqlite(path: string, migrations: readonly Migration[]): Promise<string[]> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = createClient({ url: libsqlUrl(path) });
  try {
    // a second process starting at the same moment waits for the first one's transaction instead of failing
    await db.execute('PRAGMA busy_timeout = 30000');
    const tx = await db.transaction('write'); // BEGIN IMMEDIATE: the whole run holds the write lock
    try {
      await tx.execute(SQLITE_TABLE);
      const todo = pending(migrations, (await tx.execute(ROWS)).rows as unknown as AppliedRow[]);
      for (const m of todo) {
        const started = sqliteNow();
        await tx.executeMultiple(m.sql).catch((error: unknown) => {
          throw new MigrationError(
            `migration ${m.name} (${m.file}) failed, nothing was applied: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        });
        await tx.execute({
          sql: 'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)',
          args: [randomUUID(), m.checksum, sqliteNow(), m.name, started],
        });
      }
      await tx.commit();
      return todo.map((m) => m.name);
    } finally {
      tx.close();
    }
  } finally {
    db.close();
  }
}

async function onPostgres(url: string, migrations: readonly Migration[]): Promise<string[]> {
  const client = new pg.Client(pgConfig(url));
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    await client.query(POSTGRES_TABLE);
    const todo = pending(migrations, (await client.query<AppliedRow>(ROWS)).rows);
    for (const m of todo) {
      await client.query('BEGIN');
      try {
        const started = new Date();
        await client.query(m.sql); // the simple protocol: a script of several statements
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ($1, $2, now(), $3, $4, 1)',
          [randomUUID(), m.checksum, m.name, started],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(
          `migration ${m.name} (${m.file}) failed and was rolled back (the ones before it are applied): ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    return todo.map((m) => m.name);
  } finally {
    await client.end();
  }
}
