import { createClient } from '@libsql/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaStore, migrateToLatest, type Store } from '../../prisma/store.ts';
import { createTestDatabase, PROVIDERS, type TestDatabase } from './databases.ts';
import { newTenant, reserveInput } from './fixtures.ts';

const TABLES = ['User', 'Workspace', 'Job', 'JobEvent', 'UsageLedger', 'Clip', 'BlockRule'];

/** Every table's rows, as text, read past the store (the warm-up must leave no trace the store could hide). */
async function everything(database: TestDatabase): Promise<Record<string, string[]>> {
  const rows: Record<string, string[]> = {};
  if (database.provider === 'sqlite') {
    const client = createClient({ url: database.url });
    try {
      for (const table of TABLES)
        rows[table] = (await client.execute(`SELECT * FROM "${table}" ORDER BY 1`)).rows.map((r) => JSON.stringify(r));
    } finally {
      client.close();
    }
    return rows;
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    for (const table of TABLES)
      rows[table] = (await client.query(`SELECT * FROM "${table}" ORDER BY 1`)).rows.map((r) => JSON.stringify(r));
  } finally {
    await client.end();
  }
  return rows;
}

/**
 * The start-up warm-up (prisma/warm-up.ts) runs a burst's statements for real — first-time users, the same users
 * again, their reservations — and must leave the database exactly as it found it, and leave the store working.
 */
describe.each(PROVIDERS)('the store warm-up on %s', (provider) => {
  let database: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    database = await createTestDatabase(provider);
    await migrateToLatest(database.url);
    store = createPrismaStore(database.url);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('runs a burst of 200 submits’ statements and leaves every table as it was', async () => {
    const tenant = await newTenant(store);
    const before = await store.reserve(reserveInput(tenant, { now: new Date() }));
    expect(before.ok).toBe(true);
    const rows = await everything(database);
    expect(rows['Job']).toHaveLength(1);

    await store.warmUp(200);

    expect(await everything(database)).toEqual(rows);
    // And the store goes on as before: the next reservation is decided against the one made before the warm-up.
    const after = await store.reserve(reserveInput(tenant, { now: new Date() }));
    expect(after).toMatchObject({ ok: true, created: true });
    expect(await store.quota(tenant.user.id, tenant.workspace.id, new Date())).toMatchObject({ queued: 2 });
  });

  it('does nothing for a size of 0', async () => {
    const rows = await everything(database);
    await store.warmUp(0);
    expect(await everything(database)).toEqual(rows);
  });
});
