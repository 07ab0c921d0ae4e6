/**
 * `npm run db:migrate -- <command> [--config prisma.postgres.config.ts] [--url URL] [--name NAME] …`
 *
 * The offline replacement for `prisma migrate` (the Prisma 7 CLI needs a native engine it cannot download here).
 * Reads the Prisma config like the CLI does (schema folder, migrations folder, DATABASE_URL) and drives the wasm
 * schema engine (../engine.ts). Commands:
 *
 *   deploy                 apply pending migrations (what the bot also does at start-up)
 *   status                 exit 1 when migrations are pending, edited, failed or missing from the folder
 *   dev --name NAME        apply pending, then create + apply a migration for the schema change (if any)
 *       [--create-only] [--accept-data-loss]
 *   diff [--from-empty]    SQL from the migrations folder (or an empty database) to the schema; exit 2 if non-empty
 *   reset --force          SQLite only: delete the database file, then deploy
 */
import { resolve } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { loadConfigFromFile } from '@prisma/config';
import { openMigrationEngine, resetSqliteFile, SchemaEngineError } from '../engine.ts';
import { parseDatabaseUrl, redactUrl } from '../url.ts';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string', default: 'prisma.config.ts' },
      url: { type: 'string' },
      name: { type: 'string' },
      'create-only': { type: 'boolean', default: false },
      'accept-data-loss': { type: 'boolean', default: false },
      'from-empty': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  const loaded = await loadConfigFromFile({ configFile: values.config });
  if (loaded.error !== undefined) throw new Error(`Cannot load ${values.config}: ${loaded.error._tag}`);
  const root = loaded.resolvedPath === null ? process.cwd() : resolve(loaded.resolvedPath, '..');
  const schemaDir = resolve(root, loaded.config.schema ?? 'prisma');
  const migrationsDir = resolve(root, loaded.config.migrations?.path ?? resolve(schemaDir, 'migrations'));
  const url = values.url ?? loaded.config.datasource?.url;
  if (url === undefined) throw new Error('No database URL: set DATABASE_URL or pass --url');
  const target = parseDatabaseUrl(url);

  if (command === 'reset') {
    if (target.provider !== 'sqlite')
      throw new Error('reset is for SQLite files only; drop PostgreSQL databases by hand');
    if (!values.force) throw new Error(`reset deletes ${target.path}; pass --force`);
    resetSqliteFile(target.path);
  }

  const engine = await openMigrationEngine(url, { schemaDir, migrationsDir });
  process.stderr.write(`${target.provider} ${redactUrl(url)}, migrations in ${migrationsDir}\n`);
  try {
    switch (command) {
      case 'deploy':
      case 'reset': {
        const applied = await engine.applyMigrations();
        process.stdout.write(applied.length === 0 ? 'No pending migrations.\n' : `Applied: ${applied.join(', ')}\n`);
        return 0;
      }
      case 'status': {
        const status = await engine.diagnose();
        const problems = [
          ...status.failedMigrationNames.map((name) => `failed: ${name}`),
          ...status.editedMigrationNames.map((name) => `edited after it was applied: ${name}`),
        ];
        const history = status.history;
        if (history?.diagnostic === 'databaseIsBehind') problems.push(`pending: ${history.unappliedMigrationNames}`);
        if (history?.diagnostic === 'migrationsDirectoryIsBehind') {
          problems.push(`applied but not in the folder: ${history.unpersistedMigrationNames}`);
        }
        if (history?.diagnostic === 'historiesDiverge') {
          problems.push(`histories diverge after ${history.lastCommonMigrationName ?? '(none)'}`);
        }
        process.stdout.write(problems.length === 0 ? 'Database schema is up to date.\n' : `${problems.join('\n')}\n`);
        return problems.length === 0 ? 0 : 1;
      }
      case 'diff': {
        const diff = values['from-empty'] ? await engine.diffEmptyToSchema() : await engine.diffMigrationsToSchema();
        process.stdout.write(diff.stdout ?? '');
        return diff.exitCode;
      }
      case 'dev': {
        if (values.name === undefined) throw new Error('dev needs --name <migration name>');
        const result = await engine.dev({
          name: values.name,
          createOnly: values['create-only'],
          acceptDataLoss: values['accept-data-loss'],
        });
        for (const warning of result.warnings) process.stdout.write(`warning: ${warning}\n`);
        if (result.created === null) process.stdout.write('Already in sync, no schema change.\n');
        else process.stdout.write(`Created ${result.created}\n`);
        if (result.applied.length > 0) process.stdout.write(`Applied: ${result.applied.join(', ')}\n`);
        return 0;
      }
      default:
        throw new Error(`Unknown command ${command ?? '(none)'}: use deploy, status, dev, diff or reset`);
    }
  } finally {
    await engine.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof SchemaEngineError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = 1;
  },
);
