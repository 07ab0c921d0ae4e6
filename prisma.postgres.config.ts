import { defineConfig } from 'prisma/config';

/** Prisma config for PostgreSQL (production). Pass `--config prisma.postgres.config.ts` to the db scripts. */
export default defineConfig({
  schema: 'prisma/postgres',
  migrations: { path: 'prisma/postgres/migrations' },
  datasource: { url: process.env['DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/pusa' },
});
