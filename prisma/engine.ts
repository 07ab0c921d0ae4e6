/**
 * Prisma's schema engine, offline: `@prisma/schema-engine-wasm` driven through the Prisma 7 driver adapters.
 *
 * The Prisma 7 CLI can only run migrations with a native engine binary that it downloads; this module does what
 * Prisma's own (unused) `SchemaEngineWasm` class does, and works around the engine/adapter bugs listed in
 * `../shared/spec/prisma-offline.md` (numbered there; the numbers are quoted below). The files it writes are the
 * standard Prisma layout, so a machine with the native engine can run `prisma migrate deploy` on them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { PrismaLibSql } from '@prisma/adapter-libsql';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type Transaction,
} from '@prisma/driver-adapter-utils';
import type {
  DiagnoseMigrationHistoryOutput,
  DiffResult,
  MigrationList,
  SchemaEngine,
  SchemaFilter,
} from '@prisma/schema-engine-wasm';
import pg from 'pg';
import { defaultSchemaPaths, type SchemaPaths } from './paths.ts';
import { type DatabaseTarget, libsqlUrl, parseDatabaseUrl, pgConfig } from './url.ts';

export { defaultSchemaPaths, PRISMA_DIR, type SchemaPaths } from './paths.ts';

const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

type SchemaEngineClass = typeof SchemaEngine;
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
type Glue = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');

let engineClass: Promise<SchemaEngineClass> | undefined;

/**
 * Instantiates the wasm module once per process (bug 6: a second instantiation corrupts the glue). The package's
 * entry point imports the .wasm as an ES module, which Node 20 cannot load, so the glue is wired by hand.
 */
function loadSchemaEngine(): Promise<SchemaEngineClass> {
  engineClass ??= (async () => {
    const require = createRequire(import.meta.url);
    const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const glue: Glue = await import('@prisma/schema-engine-wasm/schema_engine_bg');
    const registry = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };
    registry.PRISMA_WASM_PANIC_REGISTRY ??= {
      set_message(message: string) {
        lastPanic = message;
      },
    };
    const imports: Record<string, unknown> = { ...glue };
    for (const [key, value] of Object.entries(glue)) {
      // Bug 6: the engine arms a 10 s timer (the PostgreSQL advisory-lock timeout) that would keep Node alive.
      if (key.startsWith('__wbg_setTimeout_') && typeof value === 'function') {
        imports[key] = (...args: unknown[]) => {
          const timer = (value as (...a: unknown[]) => unknown)(...args);
          (timer as { unref?: () => void } | undefined)?.unref?.();
          return timer;
        };
      }
    }
    const bytes = readFileSync(join(dirname(gluePath), 'schema_engine_bg.wasm'));
    // The node types declare no WebAssembly values under lib es2023 (no DOM); the runtime has them.
    const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WasmApi };
    const instance = new wasm.Instance(new wasm.Module(bytes), { './schema_engine_bg.js': imports });
    glue.__wbg_set_wasm(instance.exports as Parameters<Glue['__wbg_set_wasm']>[0]);
    (instance.exports as { __wbindgen_start: () => void }).__wbindgen_start();
    return glue.SchemaEngine;
  })();
  return engineClass;
}

let lastPanic: string | undefined;

/**
 * The SQLite migration-aware adapter, with bug 3 fixed: multi-statement scripts go through `executeScript`. Waits
 * up to 5 s for another process's write lock (libSQL's default is to fail at once), as the store does.
 */
function sqliteFactory(path: string): SqlMigrationAwareDriverAdapterFactory {
  const inner = new PrismaLibSql({ url: libsqlUrl(path), timeout: 5_000 });
  const fix = (adapter: SqlDriverAdapter): SqlDriverAdapter => {
    const executeRaw = adapter.executeRaw.bind(adapter);
    adapter.executeRaw = async (query: SqlQuery) => {
      if (query.args.length > 0) return executeRaw(query);
      await adapter.executeScript(query.sql);
      return 0;
    };
    return adapter;
  };
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => fix(await inner.connect()),
    connectToShadowDb: async () => fix(await inner.connectToShadowDb()),
  };
}

/** Bug 5a: catalog queries return `"char"` columns (oid 18), which adapter-pg cannot map; report them as text. */
function fixCharColumns<TQueryable extends object>(queryable: TQueryable): TQueryable {
  const target = queryable as unknown as { performIO: (query: SqlQuery) => Promise<pg.QueryResult> };
  const performIO = target.performIO.bind(queryable);
  target.performIO = async (query: SqlQuery) => {
    const result = await performIO(query);
    for (const field of result.fields) if (field.dataTypeID === 18) field.dataTypeID = 25;
    return result;
  };
  return queryable;
}

function fixPgAdapter(adapter: SqlDriverAdapter): SqlDriverAdapter {
  fixCharColumns(adapter);
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolation) => fixCharColumns<Transaction>(await startTransaction(isolation));
  return adapter;
}

/**
 * The PostgreSQL migration-aware adapter. Bug 5b: built from discrete fields, so a shadow pool's `database` is not
 * overridden by a connection string. Bug 5c: the shadow database is created and dropped here, after its pool is closed.
 */
function postgresFactory(url: string): SqlMigrationAwareDriverAdapterFactory {
  const config = pgConfig(url);
  const inner = new PrismaPg(config);
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => fixPgAdapter(await inner.connect()),
    connectToShadowDb: async () => {
      const database = `prisma_migrate_shadow_db_${randomUUID().replaceAll('-', '')}`;
      const admin = new pg.Client(config);
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${database}"`);
      } finally {
        await admin.end();
      }
      const shadow = fixPgAdapter(await new PrismaPg({ ...config, database }).connect());
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        await dispose();
        const cleanup = new pg.Client(config);
        await cleanup.connect();
        try {
          await cleanup.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        } finally {
          await cleanup.end();
        }
      };
      return shadow;
    },
  };
}

/** Reads `migrationsDir` the way the CLI does; the engine itself never touches the file system. */
export function readMigrationList(migrationsDir: string): MigrationList {
  const lockPath = join(migrationsDir, 'migration_lock.toml');
  const names = existsSync(migrationsDir)
    ? readdirSync(migrationsDir)
        .filter((name) => statSync(join(migrationsDir, name)).isDirectory())
        .sort()
    : [];
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: names.map((name) => {
      const file = join(migrationsDir, name, 'migration.sql');
      return {
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: existsSync(file)
            ? { tag: 'ok' as const, value: readFileSync(file, 'utf8') }
            : { tag: 'error' as const, value: `${file} does not exist` },
        },
      };
    }),
  };
}

/** Every `.prisma` file under `schemaDir` (following the `models` symlink), as the engine's `[path, content]` pairs. */
export function readSchemaFiles(schemaDir: string): { path: string; content: string }[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .sort()
      .flatMap((name) => {
        const path = join(dir, name);
        if (name === 'migrations') return [];
        if (statSync(path).isDirectory()) return walk(path);
        return path.endsWith('.prisma') ? [path] : [];
      });
  return walk(schemaDir).map((path) => ({ path, content: readFileSync(path, 'utf8') }));
}

/** An error from the schema engine, with `External error id#N` replaced by the driver's own error. */
export class SchemaEngineError extends Error {
  override readonly name = 'SchemaEngineError';
  readonly code: string | undefined;
  readonly driverError: unknown;

  constructor(message: string, code: string | undefined, driverError: unknown, cause: unknown) {
    super(message, { cause });
    this.code = code;
    this.driverError = driverError;
  }
}

/** A schema engine connected to one database. Close it when done (it owns the driver connections). */
export interface MigrationEngine {
  readonly target: DatabaseTarget;
  readonly paths: SchemaPaths;
  /** Applies every migration not yet in `_prisma_migrations`; returns their names. */
  applyMigrations(): Promise<string[]>;
  /** Compares the database's migration history with the migrations folder (no shadow database). */
  diagnose(): Promise<DiagnoseMigrationHistoryOutput>;
  /** SQL that takes the migrations folder to the schema (uses a shadow database); exitCode 2 when not empty. */
  diffMigrationsToSchema(): Promise<DiffResult>;
  /** The full SQL of the schema from an empty database. */
  diffEmptyToSchema(): Promise<DiffResult>;
  /** `migrate dev`: applies pending migrations, then creates (and applies) one for the schema change, if any. */
  dev(options: { name: string; createOnly?: boolean; acceptDataLoss?: boolean }): Promise<DevResult>;
  close(): Promise<void>;
}

export interface DevResult {
  applied: string[];
  created: string | null;
  warnings: string[];
}

/** Opens a schema engine on `url` (`file:` → SQLite, `postgres(ql)://` → PostgreSQL). */
export async function openMigrationEngine(url: string, paths?: SchemaPaths): Promise<MigrationEngine> {
  const target = parseDatabaseUrl(url);
  const schemaPaths = paths ?? defaultSchemaPaths(target.provider);
  if (target.provider === 'sqlite' && target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
  const base = target.provider === 'sqlite' ? sqliteFactory(target.path) : postgresFactory(target.url);
  const opened: SqlDriverAdapter[] = [];
  const tracked: SqlMigrationAwareDriverAdapterFactory = {
    provider: base.provider,
    adapterName: base.adapterName,
    connect: async () => {
      const adapter = await base.connect();
      opened.push(adapter);
      return adapter;
    },
    connectToShadowDb: async () => {
      const adapter = await base.connectToShadowDb();
      opened.push(adapter);
      return adapter;
    },
  };
  const bound = bindMigrationAwareSqlAdapterFactory(tracked);
  const Engine = await loadSchemaEngine();
  const schemaFiles = readSchemaFiles(schemaPaths.schemaDir);
  const datamodels: [string, string][] = schemaFiles.map((file) => [file.path, file.content]);
  const log = (): void => {};

  const engine = await Engine.new({ datamodels }, log, bound);

  const translate = (error: unknown): SchemaEngineError => {
    if (error instanceof SchemaEngineError) return error;
    const raw = error instanceof Error ? error.message : String(error);
    const parsed = parseEngineError(raw);
    let driverError: unknown;
    const message = parsed.message.replace(/External error id#(\d+)/g, (match, id: string) => {
      const record = bound.errorRegistry.consumeError(Number(id));
      if (record === undefined) return match;
      driverError = record.error;
      return `driver error: ${describeDriverError(record.error)}`;
    });
    const panic = lastPanic === undefined ? '' : ` (engine panic: ${lastPanic})`;
    lastPanic = undefined;
    const ownCode = (error as { code?: unknown } | null)?.code;
    const code = typeof ownCode === 'string' ? ownCode : parsed.code;
    return new SchemaEngineError(`${message}${panic}`, code, driverError, error);
  };
  const call = async <TResult>(run: () => Promise<TResult>): Promise<TResult> => {
    try {
      return await run();
    } catch (error) {
      throw translate(error);
    }
  };
  const migrationsList = (): MigrationList => readMigrationList(schemaPaths.migrationsDir);
  const schema = () => ({ files: readSchemaFiles(schemaPaths.schemaDir) });

  const applyMigrations = async (): Promise<string[]> => {
    const output = await call(() => engine.applyMigrations({ migrationsList: migrationsList(), filters: NO_FILTER }));
    return output.appliedMigrationNames;
  };

  /** Bug 2: on a fresh SQLite database the diagnostics fail with P1014 instead of treating it as new. */
  const withFreshDatabaseRetry = async <TResult>(run: () => Promise<TResult>): Promise<TResult> => {
    try {
      return await call(run);
    } catch (error) {
      if (!(error instanceof SchemaEngineError) || error.code !== 'P1014') throw error;
      await applyMigrations();
      return call(run);
    }
  };

  const disposeAll = async (): Promise<void> => {
    const adapters = opened.splice(0);
    for (const adapter of adapters) {
      try {
        await adapter.dispose();
      } catch {
        // Already closed by the engine.
      }
    }
  };

  return {
    target,
    paths: schemaPaths,
    applyMigrations,
    diagnose: () =>
      withFreshDatabaseRetry(() =>
        engine.diagnoseMigrationHistory({
          migrationsList: migrationsList(),
          optInToShadowDatabase: false,
          filters: NO_FILTER,
        }),
      ),
    diffMigrationsToSchema: () =>
      call(() =>
        engine.diff({
          from: { tag: 'migrations', ...migrationsList() },
          to: { tag: 'schemaDatamodel', ...schema() },
          script: true,
          exitCode: true,
          filters: NO_FILTER,
        }),
      ),
    diffEmptyToSchema: () =>
      call(() =>
        engine.diff({
          from: { tag: 'empty' },
          to: { tag: 'schemaDatamodel', ...schema() },
          script: true,
          exitCode: true,
          filters: NO_FILTER,
        }),
      ),
    async dev({ name, createOnly = false, acceptDataLoss = false }) {
      // Bug 1: createMigration and evaluateDataLoss only see the shadow database after devDiagnostic ran on an
      // up-to-date database, on the same engine instance. Hence: diagnose, apply, diagnose again, then create.
      const diagnostic = await withFreshDatabaseRetry(() =>
        engine.devDiagnostic({ migrationsList: migrationsList(), filters: NO_FILTER }),
      );
      if (diagnostic.action.tag === 'reset') {
        throw new SchemaEngineError(
          `The database must be reset: ${diagnostic.action.reason} Run the reset command (it deletes all data).`,
          'RESET_REQUIRED',
          undefined,
          undefined,
        );
      }
      const applied = await applyMigrations();
      if (applied.length > 0) {
        await call(() => engine.devDiagnostic({ migrationsList: migrationsList(), filters: NO_FILTER }));
      }
      const loss = await call(() =>
        engine.evaluateDataLoss({ migrationsList: migrationsList(), schema: schema(), filters: NO_FILTER }),
      );
      if (loss.unexecutableSteps.length > 0) {
        throw new SchemaEngineError(
          `The migration cannot be applied: ${loss.unexecutableSteps.map((step) => step.message).join('; ')}`,
          'UNEXECUTABLE',
          undefined,
          undefined,
        );
      }
      const warnings = loss.warnings.map((warning) => warning.message);
      if (warnings.length > 0 && !acceptDataLoss) {
        throw new SchemaEngineError(
          `The migration would lose data (pass --accept-data-loss to go on):\n  ${warnings.join('\n  ')}`,
          'DATA_LOSS',
          undefined,
          undefined,
        );
      }
      const created = await call(() =>
        engine.createMigration({
          draft: false,
          migrationName: name,
          migrationsList: migrationsList(),
          schema: schema(),
          filters: NO_FILTER,
        }),
      );
      if (created.migrationScript === null) return { applied, created: null, warnings };
      const folder = join(schemaPaths.migrationsDir, created.generatedMigrationName);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `migration.${created.extension}`), created.migrationScript);
      writeFileSync(
        join(schemaPaths.migrationsDir, 'migration_lock.toml'),
        '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\n' +
          `provider = "${created.connectorType}"\n`,
      );
      if (!createOnly) applied.push(...(await applyMigrations()));
      return { applied, created: relative(process.cwd(), folder), warnings };
    },
    async close() {
      engine.free();
      await disposeAll();
    },
  };
}

/** Bug 4: the wasm engine's SQLite reset only deletes rows; delete the database files instead, as the native one does. */
export function resetSqliteFile(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

function parseEngineError(raw: string): { message: string; code: string | undefined } {
  try {
    const parsed = JSON.parse(raw) as { message?: unknown; error_code?: unknown; is_panic?: unknown };
    return {
      message: typeof parsed.message === 'string' ? parsed.message : raw,
      code: typeof parsed.error_code === 'string' ? parsed.error_code : undefined,
    };
  } catch {
    const code = /\b(P\d{4})\b/.exec(raw)?.[1];
    return { message: raw, code };
  }
}

function describeDriverError(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
