import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSchemaPaths, openMigrationEngine } from '../../prisma/engine.ts';
import { migrateToLatest } from '../../prisma/store.ts';
import { libsqlUrl, parseDatabaseUrl } from '../../prisma/url.ts';
import { createTestDatabase, PROVIDERS, type TestDatabase } from './databases.ts';

interface AppliedMigration {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
}

async function appliedMigrations(url: string): Promise<AppliedMigration[]> {
  const sql = 'SELECT migration_name, checksum, finished_at FROM _prisma_migrations ORDER BY migration_name';
  const target = parseDatabaseUrl(url);
  if (target.provider === 'sqlite') {
    // Read with the driver itself, not through Prisma: the test checks what is on disk.
    const db = createClient({ url: libsqlUrl(target.path) });
    try {
      return (await db.execute(sql)).rows as unknown as AppliedMigration[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<AppliedMigration>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe.each(PROVIDERS)('migrations on %s', (provider) => {
  const paths = defaultSchemaPaths(provider);
  const folders = readdirSync(paths.migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(provider);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('has a standard migration folder for this provider', () => {
    const lock = readFileSync(join(paths.migrationsDir, 'migration_lock.toml'), 'utf8');

    expect(folders.length).toBeGreaterThan(0);
    expect(folders.every((name) => /^\d{14}_[a-z0-9_]+$/.test(name))).toBe(true);
    expect(lock).toContain(`provider = "${provider}"`);
  });

  it('applies every migration to an empty database, then nothing on a second run', async () => {
    const first = await migrateToLatest(database.url);
    const second = await migrateToLatest(database.url);

    expect(first).toEqual(folders);
    expect(second).toEqual([]);
  });

  it('records the migrations as Prisma does, with sha256 checksums of migration.sql', async () => {
    const applied = await appliedMigrations(database.url);

    expect(applied.map((row) => row.migration_name)).toEqual(folders);
    for (const row of applied) {
      const sql = readFileSync(join(paths.migrationsDir, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).not.toBeNull();
    }
  });

  it('reports the database up to date', async () => {
    const engine = await openMigrationEngine(database.url);
    try {
      const status = await engine.diagnose();

      expect(status).toMatchObject({ history: null, failedMigrationNames: [], editedMigrationNames: [] });
    } finally {
      await engine.close();
    }
  });

  it('has no drift: the migrations folder produces exactly the schema in prisma/models', async () => {
    // SQLite needs no server for this (its shadow database is in memory); PostgreSQL replays on a shadow database.
    const engine = await openMigrationEngine(provider === 'sqlite' ? 'file::memory:' : database.url);
    try {
      const diff = await engine.diffMigrationsToSchema();

      expect(diff.stdout?.trim()).toBe('-- This is an empty migration.');
      expect(diff.exitCode).toBe(0);
    } finally {
      await engine.close();
    }
  });
});
