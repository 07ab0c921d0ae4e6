import { defineConfig } from 'prisma/config';

/**
 * Prisma config for the embedded default, SQLite. `prisma generate` and `npm run db:*` read it.
 * `env()` would throw when DATABASE_URL is unset (it breaks `prisma generate` in CI), hence the fallback.
 */
export default defineConfig({
  schema: 'prisma/sqlite',
  migrations: { path: 'prisma/sqlite/migrations' },
  datasource: { url: process.env['DATABASE_URL'] ?? 'file:./data/pusa.db' },
});
