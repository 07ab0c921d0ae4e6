import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@libsql/client';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultSchemaPaths, openMigrationEngine } from '../../prisma/engine.ts';
import { MigrationError, migrateToLatest } from '../../prisma/migrate.ts';
import { libsqlUrl, parseDatabaseUrl } from '../../prisma/url.ts';
import { createTestDatabase, PROVIDERS, type Provider, type TestDatabase } from './databases.ts';

/**
 * The start-path migration runner (prisma/migrate.ts) without Prisma's schema engine: interchangeable with the
 * engine's own bookkeeping, refusing what it must not apply, safe with several processes at once.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function database(provider: Provider): Promise<TestDatabase> {
  const db = await createTestDatabase(provider);
  cleanups.push(() => db.drop());
  return db;
}

/** A copy of the provider's migrations folder to edit. */
function migrationsCopy(provider: Provider) {
  const source = defaultSchemaPaths(provider);
  const dir = mkdtempSync(join(tmpdir(), 'pusa-migrations-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(source.migrationsDir, dir, { recursive: true });
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return { paths: { schemaDir: source.schemaDir, migrationsDir: dir }, dir, names };
}

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const target = parseDatabaseUrl(url);
  if (target.provider === 'sqlite') {
    const db = createClient({ url: libsqlUrl(target.path) });
    try {
      return (await db.execute(sql)).rows as unknown as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const appliedNames = async (url: string) =>
  (await query(url, 'SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name')).map(
    (r) => r['migration_name'],
  );

describe.each(PROVIDERS)('the migration runner on %s', (provider) => {
  it("takes over a database Prisma's engine migrated, and the engine takes over one it migrated", async () => {
    const [byEngine, byRunner] = [await database(provider), await database(provider)];
    const engine = await openMigrationEngine(byEngine.url);
    try {
      await engine.applyMigrations();
    } finally {
      await engine.close();
    }
    expect(await migrateToLatest(byEngine.url)).toEqual([]);

    const { names } = migrationsCopy(provider);
    expect(await migrateToLatest(byRunner.url)).toEqual(names);
    const check = await openMigrationEngine(byRunner.url);
    try {
      expect(await check.applyMigrations()).toEqual([]);
      expect(await check.diagnose()).toMatchObject({ failedMigrationNames: [], editedMigrationNames: [] });
    } finally {
      await check.close();
    }
  });

  it('refuses a migration whose file changed after it was applied, naming it and the fix', async () => {
    const db = await database(provider);
    const { paths, dir, names } = migrationsCopy(provider);
    await migrateToLatest(db.url, paths);
    const first = names[0] as string;
    writeFileSync(
      join(dir, first, 'migration.sql'),
      `${readFileSync(join(dir, first, 'migration.sql'), 'utf8')}\n-- edited\n`,
    );

    const attempt = migrateToLatest(db.url, paths);
    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(migrateToLatest(db.url, paths)).rejects.toThrow(
      new RegExp(`migration ${first} was changed after it was applied .* put the change in a new migration`),
    );
  });

  it('refuses a database migrated by a newer version', async () => {
    const db = await database(provider);
    await migrateToLatest(db.url);
    const { paths, dir, names } = migrationsCopy(provider);
    const last = names.at(-1) as string;
    rmSync(join(dir, last), { recursive: true });

    await expect(migrateToLatest(db.url, paths)).rejects.toThrow(
      new RegExp(`the database has migration ${last}, which this version of pusa-bot does not have`),
    );
  });

  it('applies nothing of a run whose migration fails on SQLite, and keeps the ones before on PostgreSQL', async () => {
    const db = await database(provider);
    const { paths, dir, names } = migrationsCopy(provider);
    const bad = '29991231000000_broken';
    cpSync(join(dir, names[0] as string), join(dir, bad), { recursive: true });
    writeFileSync(join(dir, bad, 'migration.sql'), 'CREATE TABLE "Ok" ("id" INTEGER);\nSELECT * FROM "NoSuchTable";\n');

    await expect(migrateToLatest(db.url, paths)).rejects.toThrow(new RegExp(`migration ${bad} .* failed`));
    const tables = await query(
      db.url,
      provider === 'sqlite'
        ? `SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'Ok'`
        : `SELECT tablename FROM pg_tables WHERE tablename = 'Ok'`,
    );
    expect(tables).toHaveLength(0);
    if (provider === 'sqlite') {
      expect(await query(db.url, `SELECT name FROM sqlite_master WHERE name = '_prisma_migrations'`)).toHaveLength(0);
    } else {
      expect(await appliedNames(db.url)).toEqual(names);
    }
    // with the broken one gone, the next start applies what is left
    rmSync(join(dir, bad), { recursive: true });
    expect(await migrateToLatest(db.url, paths)).toEqual(provider === 'sqlite' ? names : []);
  });

  it('applies each migration once when several processes start at the same moment', async () => {
    const db = await database(provider);
    const { names } = migrationsCopy(provider);
    const run = () =>
      promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `const { migrateToLatest } = await import('./prisma/migrate.ts');
           process.stdout.write(JSON.stringify(await migrateToLatest(${JSON.stringify(db.url)})));`,
        ],
        { cwd: new URL('../..', import.meta.url).pathname },
      );
    const results = await Promise.all([run(), run(), run()]);
    const applied = results.map((r) => JSON.parse(r.stdout) as string[]);

    expect(applied.flat().sort()).toEqual(names);
    expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
    expect(await appliedNames(db.url)).toEqual(names);
  });
});

describe('the start path', () => {
  it("migrates without loading Prisma's schema engine", async () => {
    const db = await database('sqlite');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        // every wasm module compiled in the process, by size: prisma/engine.ts compiles the schema engine's this way
        `const sizes = [];
         const Original = WebAssembly.Module;
         WebAssembly.Module = class extends Original { constructor(b) { super(b); sizes.push(b.byteLength); } };
         const { createRequire } = await import('node:module');
         const { statSync } = await import('node:fs');
         const { dirname, join } = await import('node:path');
         const glue = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
         const wasm = join(dirname(glue), 'schema_engine_bg.wasm');
         const { migrateToLatest } = await import('./bot/service.ts').then(() => import('./prisma/migrate.ts'));
         await migrateToLatest(${JSON.stringify(db.url)});
         process.stdout.write(JSON.stringify({ engine: sizes.includes(statSync(wasm).size) }));`,
      ],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    expect(JSON.parse(stdout)).toEqual({ engine: false });
  });
});
