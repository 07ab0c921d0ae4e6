import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaStore, migrateToLatest, type Store, StoreUnavailableError } from '../../prisma/store.ts';
import { libsqlUrl, parseDatabaseUrl } from '../../prisma/url.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';
import { at, clipOf, newTenant, reserveInput } from './fixtures.ts';

interface WriterResult {
  accepted: number;
  refused: string[];
  errors: string[];
}

/** Starts test/prisma/sqlite-writer.ts; resolves `ready` once its store is open, `result` with its JSON line. */
function startWriter(url: string, tenant: { user: { id: string }; workspace: { id: string } }, count: number) {
  const writer = new URL('./sqlite-writer.ts', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', writer, url, tenant.user.id, tenant.workspace.id, String(count)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error(`sqlite-writer exited early (code ${child.exitCode}):\n${stderr}`);
    return line.value;
  };
  const ready = next().then((line) => expect(line).toBe('ready'));
  const result = ready.then(async () => JSON.parse(await next()) as WriterResult);
  return { ready, result, go: () => child.stdin.end('go\n'), kill: () => child.kill('SIGKILL') };
}

/**
 * SQLite across processes: the file's write lock serialises them, and each store waits up to `busyTimeoutMs` for it
 * (libSQL's own default is to fail at once with SQLITE_BUSY). The bot host normally owns the file, but a migration
 * CLI or a second copy beside it must not make anyone's submit fail.
 */
describe('prisma store on sqlite, several processes at once', () => {
  let database: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    await migrateToLatest(database.url);
    store = createPrismaStore(database.url);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('keeps the file in WAL mode', async () => {
    await store.ping();
    const raw = createClient({ url: libsqlUrl(path()) });
    try {
      expect((await raw.execute('PRAGMA journal_mode')).rows[0]?.[0]).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('accepts exactly 5 of 100 submits from four processes at once, and none fails on the lock', async () => {
    const tenant = await newTenant(store);
    await store.setUserLimits(tenant.user.id, { dailyGpuSeconds: 50, maxQueuedJobs: 200 });
    const writers = Array.from({ length: 4 }, () => startWriter(database.url, tenant, 25));
    try {
      await Promise.all(writers.map((writer) => writer.ready));
      for (const writer of writers) writer.go();
      const results = await Promise.all(writers.map((writer) => writer.result));

      expect(results.flatMap((result) => result.errors)).toEqual([]);
      expect(results.reduce((sum, result) => sum + result.accepted, 0)).toBe(5);
      expect(results.flatMap((result) => result.refused)).toEqual(Array(95).fill('user-daily'));
      const now = at('2031-05-06T12:00:00Z');
      expect(await store.quota(tenant.user.id, tenant.workspace.id, now)).toMatchObject({
        reservedSeconds: 50,
        queued: 5,
      });
    } finally {
      for (const writer of writers) writer.kill();
    }
  });

  it('waits busyTimeoutMs for a held write lock on every connection, then answers StoreUnavailable', async () => {
    const tenant = await newTenant(store);
    const now = at('2031-05-06T12:00:00Z');
    const waiting = createPrismaStore(database.url, { busyTimeoutMs: 400 });
    const holder = createClient({ url: libsqlUrl(path()) });
    try {
      // A first transaction: libSQL hands its connection to it and opens a fresh one for the next, which must wait too.
      expect(await waiting.reserve(reserveInput(tenant, { now }))).toMatchObject({ ok: true });
      await holder.execute('BEGIN IMMEDIATE');
      const started = performance.now();
      const refused = await waiting.reserve(reserveInput(tenant, { now })).catch((error: unknown) => error);
      const waitedMs = performance.now() - started;
      await holder.execute('ROLLBACK');

      expect(refused).toBeInstanceOf(StoreUnavailableError);
      expect((refused as Error).message).toMatch(/unavailable for reserve/);
      // SQLite's busy handler sleeps until the timeout is spent before giving up (a lower bound: holds under load).
      expect(waitedMs).toBeGreaterThanOrEqual(360);
      expect(await waiting.reserve(reserveInput(tenant, { now }))).toMatchObject({ ok: true });
    } finally {
      holder.close();
      await waiting.close();
    }
  });

  function path(): string {
    const target = parseDatabaseUrl(database.url);
    if (target.provider !== 'sqlite') throw new Error('not a SQLite URL');
    return target.path;
  }
});

/**
 * PostgreSQL serves many bot processes at once, each with its own pool: the reservation must hold across them.
 * (SQLite's single-store atomicity is in store.test.ts; its several processes are above.)
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
