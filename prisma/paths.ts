import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseTarget } from './url.ts';

/** The repository's `prisma/` folder (this file's folder). */
export const PRISMA_DIR = dirname(fileURLToPath(import.meta.url));

/** Where a provider's schema folder and migration history live. */
export interface SchemaPaths {
  /** Folder holding the provider's `schema.prisma` and (through a symlink) the shared models. */
  schemaDir: string;
  /** Folder of `<timestamp>_<name>/migration.sql` folders plus `migration_lock.toml`. */
  migrationsDir: string;
}

/** The checked-in schema folders: `prisma/sqlite` and `prisma/postgres`. */
export function defaultSchemaPaths(provider: DatabaseTarget['provider']): SchemaPaths {
  const folder = provider === 'sqlite' ? 'sqlite' : 'postgres';
  return { schemaDir: join(PRISMA_DIR, folder), migrationsDir: join(PRISMA_DIR, folder, 'migrations') };
}
