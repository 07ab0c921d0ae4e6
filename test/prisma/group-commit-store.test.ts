import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaStore, migrateToLatest, type ReserveResult, type Store } from '../../prisma/store.ts';
import { createTestDatabase, PROVIDERS, type TestDatabase } from './databases.ts';
import { at, clipOf, newTenant, reserveInput } from './fixtures.ts';

const summary = (result: ReserveResult) => (result.ok ? (result.created ? 'created' : 'existing') : result.reason);

/**
 * The store's group commit (prisma/reserve-batch.ts, prisma/user-batch.ts): calls made at one moment share one
 * transaction, and each must be decided as it would be alone. Every call below is made in one turn of the event loop,
 * so they form one batch.
 */
describe.each(PROVIDERS)('group commit in the store on %s', (provider) => {
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

  it('decides each reservation of one batch as alone: ban, blocklist, cap, user day, workspace day', async () => {
    const { workspace } = await newTenant(store);
    await store.setWorkspaceLimits(workspace.id, { dailyBudgetSeconds: 100, userMaxQueuedJobs: 2 });
    await store.addBlockRule(workspace.id, { pattern: 'forbidden', kind: 'word', createdBy: 'admin' });
    const user = () => store.ensureUser({ platform: 'discord', externalId: randomUUID(), displayName: 'U' });
    const [banned, capped, small, rich] = await Promise.all([user(), user(), user(), user()]);
    await store.ban(banned.id, 'spam');
    await store.setUserLimits(small.id, { dailyGpuSeconds: 15 });
    const now = at('2031-05-06T12:00:00Z');
    const as = (u: { id: string }, overrides: Parameters<typeof reserveInput>[1]) =>
      store.reserve(reserveInput({ workspace, user: u }, overrides));

    const results = await Promise.all([
      as(banned, { now }),
      as(rich, { now, prompt: 'a forbidden thing' }),
      as(capped, { now }),
      as(capped, { now }),
      as(capped, { now }), // third for a cap of 2
      as(small, { now, estimatedSeconds: 10 }),
      as(small, { now, estimatedSeconds: 10 }), // 20 s > the user's 15 s
      as(rich, { now, estimatedSeconds: 50 }),
      as(rich, { now, estimatedSeconds: 50 }), // 10 + 10 + 10 + 50 + 50 > the workspace's 100 s
    ]);

    expect(results.map(summary)).toEqual([
      'banned',
      'blocked-prompt',
      'created',
      'created',
      'queued-cap',
      'created',
      'user-daily',
      'created',
      'workspace-daily',
    ]);
    const quota = await store.quota(rich.id, workspace.id, now);
    expect(quota).toMatchObject({ reservedSeconds: 50, queued: 1 });
    expect(quota.workspace).toMatchObject({ reservedSeconds: 80 });
  });

  it('returns records that read back the same from the database, with their first event and ledger row', async () => {
    const tenant = await newTenant(store);
    // Just before midnight: the reservation counts on its own day, as the single-row path wrote it.
    const now = at('2031-05-06T23:59:59.999Z');
    const parameters = { prompt: 'a heron', noiseMultipliers: [0.1 + 0.2, 1e-7], seed: 2 ** 32 - 1, nested: { a: [] } };

    const results = await Promise.all([
      store.reserve(reserveInput(tenant, { now, task: 'start-end', parameters, estimatedSeconds: 12.2 })),
      store.reserve(reserveInput(tenant, { now, estimatedSeconds: 5 })),
    ]);

    for (const result of results) {
      if (!result.ok) throw new Error(result.message);
      expect(await store.job(result.job.id)).toEqual(result.job);
      expect(await store.jobEvents(result.job.id)).toEqual([{ status: 'queued', at: now, detail: null }]);
    }
    const [first] = results;
    expect(first).toMatchObject({ ok: true, created: true, job: { task: 'start-end', reservedSeconds: 13 } });
    expect(first?.ok && first.job.parameters).toEqual(parameters);
    expect(await store.quota(tenant.user.id, tenant.workspace.id, now)).toMatchObject({ reservedSeconds: 18 });
    expect(await store.quota(tenant.user.id, tenant.workspace.id, at('2031-05-07T00:00:00Z'))).toMatchObject({
      reservedSeconds: 18,
      usedSeconds: 0,
    });
    expect(await store.history(tenant.user.id, { limit: 10 })).toHaveLength(2);
  });

  it("tells each created reservation the user's day after it, for the queue's fairness priority", async () => {
    const tenant = await newTenant(store);
    const now = at('2031-05-06T12:00:00Z');
    const done = await store.reserve(reserveInput(tenant, { now, estimatedSeconds: 30 }));
    if (!done.ok) throw new Error(done.message);
    await store.complete(done.job.id, { chargedSeconds: 20, clip: clipOf(), now });

    const results = await Promise.all([
      store.reserve(reserveInput(tenant, { now, estimatedSeconds: 10 })),
      store.reserve(reserveInput(tenant, { now, estimatedSeconds: 7 })),
    ]);

    expect(results.map((result) => result.ok && result.usage)).toEqual([
      { usedSeconds: 20, reservedSeconds: 10, limitSeconds: 600 },
      { usedSeconds: 20, reservedSeconds: 17, limitSeconds: 600 },
    ]);
  });

  it('makes one job of a request key sent twice in one batch, and fails only a reservation for an unknown user', async () => {
    const tenant = await newTenant(store);
    const now = at('2031-05-06T12:00:00Z');
    const input = reserveInput(tenant, { now });

    const settled = await Promise.allSettled([
      store.reserve(input),
      store.reserve({ ...input, userId: 'no-such-user', requestKey: `req-${randomUUID()}` }),
      store.reserve(input),
    ]);

    const [first, unknown, again] = settled;
    expect(first?.status === 'fulfilled' && summary(first.value)).toBe('created');
    expect(unknown?.status === 'rejected' && String(unknown.reason)).toMatch(
      /unknown workspace .* or user no-such-user/,
    );
    expect(again?.status === 'fulfilled' && summary(again.value)).toBe('existing');
    if (first?.status !== 'fulfilled' || again?.status !== 'fulfilled' || !first.value.ok || !again.value.ok) return;
    expect(again.value.job.id).toBe(first.value.job.id);
    expect((await store.quota(tenant.user.id, tenant.workspace.id, now)).reservedSeconds).toBe(10);
  });

  it('keeps the cap exact when another store wins a request key of the batch (the batch is redone one by one)', async () => {
    const other = createPrismaStore(database.url);
    try {
      const [mine, theirs] = [await newTenant(store), await newTenant(store)];
      const now = at('2031-05-06T12:00:00Z');
      const requestKey = `req-${randomUUID()}`;

      const results = await Promise.all([
        other.reserve(reserveInput(theirs, { now, requestKey })),
        store.reserve(reserveInput(mine, { now, requestKey })),
        ...Array.from({ length: 5 }, () => store.reserve(reserveInput(mine, { now }))),
      ]);

      const keyed = results.slice(0, 2).map((result) => (result.ok ? result.job.id : result.reason));
      expect(keyed[0]).toBe(keyed[1]);
      // The default cap is 3 jobs in flight, whichever store won the key (mine then holds its job and 2 more).
      expect((await store.quota(mine.user.id, mine.workspace.id, now)).queued).toBe(3);
    } finally {
      await other.close();
    }
  });

  it('ensures first-time users of one moment in one go: one row each, the last display name sent', async () => {
    const existing = await store.ensureUser({ platform: 'slack', externalId: `U-${randomUUID()}`, displayName: 'Old' });
    const fresh = `U-${randomUUID()}`;

    const users = await Promise.all([
      store.ensureUser({ platform: 'slack', externalId: existing.externalId, displayName: 'Renamed' }),
      store.ensureUser({ platform: 'slack', externalId: fresh, displayName: 'First' }),
      store.ensureUser({ platform: 'discord', externalId: fresh, displayName: 'Elsewhere' }),
      store.ensureUser({ platform: 'slack', externalId: fresh, displayName: 'Second' }),
    ]);

    expect(users[0]).toMatchObject({ id: existing.id, displayName: 'Renamed', createdAt: existing.createdAt });
    expect(users[1]?.id).toBe(users[3]?.id);
    expect(users[2]?.id).not.toBe(users[1]?.id);
    expect(users.map((user) => user.displayName)).toEqual(['Renamed', 'Second', 'Elsewhere', 'Second']);
    expect(await store.findUser('slack', fresh)).toEqual(users[1]);
    expect(users[1]).toMatchObject({ banned: false, dailyGpuSeconds: null, maxQueuedJobs: null });
  });
});
