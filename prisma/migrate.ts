import { openMigrationEngine, type SchemaEngineError, type SchemaPaths } from './engine.ts';
import { isUnavailable, StoreUnavailableError } from './errors.ts';
import { redactUrl } from './url.ts';

/**
 * Applies the migrations the database lacks (the wasm schema engine's `applyMigrations`, the same as
 * `prisma migrate deploy`) and returns their names. Call it once at start-up, before `createPrismaStore(url)`:
 * a new SQLite user needs no separate migrate step. Safe to run repeatedly and from several processes
 * (PostgreSQL takes an advisory lock). Throws StoreUnavailableError when the database cannot be reached.
 */
export async function migrateToLatest(url: string, paths?: SchemaPaths): Promise<string[]> {
  let engine: Awaited<ReturnType<typeof openMigrationEngine>> | undefined;
  try {
    engine = await openMigrationEngine(url, paths);
    return await engine.applyMigrations();
  } catch (error) {
    if (isUnavailable(error) || isUnavailable((error as SchemaEngineError | null)?.driverError)) {
      throw new StoreUnavailableError(`Cannot migrate ${redactUrl(url)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    await engine?.close();
  }
}
