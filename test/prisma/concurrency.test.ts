import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaStore, migrateToLatest, type Store } from '../../prisma/store.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';
import { at, clipOf, newTenant, reserveInput } from './fixtures.ts';

/**
 * PostgreSQL serves many bot processes at once, each with its own pool: the reservation must hold across them.
 * (SQLite is owned by one process, one store; store.test.ts covers it.)
 */
describe('prisma store on postgresql, several pools at once', () => {
  let database: TestDatabase;
  let stores: Store[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgresql');
    await migrateToLatest(database.url);
    stores = Array.from({ length: 4 }, () => createPrismaStore(database.url, { poolSize: 5 }));
  });

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await database?.drop();
  });

  it('accepts exactly 5 of 50 simultaneous submits spread over four stores', async () => {
    const tenant = await newTenant(stores[0]!);
    await stores[0]!.setUserLimits(tenant.user.id, { dailyGpuSeconds: 50, maxQueuedJobs: 100 });
    const now = at('2031-05-06T12:00:00Z');

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => stores[i % stores.length]!.reserve(reserveInput(tenant, { now }))),
    );

    expect(results.filter((result) => result.ok)).toHaveLength(5);
    expect((await stores[1]!.quota(tenant.user.id, tenant.workspace.id, now)).reservedSeconds).toBe(50);
  });

  it('keeps the workspace budget across users submitting through different stores', async () => {
    const tenant = await newTenant(stores[0]!);
    await stores[0]!.setWorkspaceLimits(tenant.workspace.id, { dailyBudgetSeconds: 60, userMaxQueuedJobs: 100 });
    const users = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        stores[0]!.ensureUser({ platform: 'discord', externalId: `${tenant.user.id}-${i}`, displayName: `U${i}` }),
      ),
    );
    const now = at('2031-05-06T12:00:00Z');

    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        stores[i % stores.length]!.reserve(reserveInput({ ...tenant, user: users[i % users.length]! }, { now })),
      ),
    );

    expect(results.filter((result) => result.ok)).toHaveLength(6);
    expect(results.filter((result) => !result.ok && result.reason === 'workspace-daily')).toHaveLength(34);
  });

  it('charges once when the same job is completed through four stores at once', async () => {
    const tenant = await newTenant(stores[0]!);
    const now = at('2031-05-06T12:00:00Z');
    const reserved = await stores[0]!.reserve(reserveInput(tenant, { now, estimatedSeconds: 20 }));
    if (!reserved.ok) throw new Error(reserved.message);

    const results = await Promise.all(
      stores.map((store) => store.complete(reserved.job.id, { chargedSeconds: 12, clip: clipOf(), now })),
    );

    expect(results.filter((result) => result.outcome === 'applied')).toHaveLength(1);
    expect(await stores[3]!.quota(tenant.user.id, tenant.workspace.id, now)).toMatchObject({
      usedSeconds: 12,
      reservedSeconds: 0,
    });
  });
});
