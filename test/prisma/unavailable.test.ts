import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaStore, migrateToLatest, type Store, StoreUnavailableError } from '../../prisma/store.ts';
import { pgProxy } from '../helpers/pg-proxy.ts';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from './databases.ts';

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) {
    chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('StoreUnavailableError', () => {
  it('is what the store throws when PostgreSQL refuses connections, and migrateToLatest too', async () => {
    const url = `postgresql://postgres@127.0.0.1:${await closedPort()}/pusa`;
    const store = createPrismaStore(url, { connectTimeoutMs: 2_000 });

    const failure = store.ensureUser({ platform: 'discord', externalId: 'u', displayName: 'U' });

    await expect(failure).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(failure).rejects.toThrow(/unavailable for ensureUser/);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(migrateToLatest(url)).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
  });

  it("is what the store throws when the SQLite file's directory cannot be written", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pusa-unwritable-'));
    temps.push(dir);
    // A regular file where a folder should be: no user, root included, can create the database under it.
    writeFileSync(join(dir, 'not-a-folder'), '');
    const urls = [`file:${join(dir, 'not-a-folder', 'data', 'pusa.db')}`];
    if (process.getuid?.() !== 0) {
      // Permission bits only stop non-root users.
      mkdirSync(join(dir, 'read-only'));
      chmodSync(join(dir, 'read-only'), 0o555);
      urls.push(`file:${join(dir, 'read-only', 'pusa.db')}`);
    }

    for (const url of urls) {
      const store = createPrismaStore(url);
      await expect(store.ensureWorkspace({ platform: 'local', externalId: 'w', name: 'W' })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(migrateToLatest(url)).rejects.toBeInstanceOf(StoreUnavailableError);
      await store.close();
    }
  });

  describe('a brief PostgreSQL outage', () => {
    let database: TestDatabase;
    let store: Store | undefined;
    const admin = new URL(PG_ADMIN_URL);
    const proxy = pgProxy({ host: admin.hostname, port: Number(admin.port || 5432) });

    beforeAll(async () => {
      database = await createTestDatabase('postgresql');
      await migrateToLatest(database.url);
    });

    afterAll(async () => {
      await store?.close();
      await proxy.cut();
      await database?.drop();
    });

    it('answers "unavailable" while the server is away and carries on when it is back, without a new store', async () => {
      const port = await proxy.start();
      const url = new URL(database.url);
      url.port = String(port);
      store = createPrismaStore(url.toString(), { connectTimeoutMs: 2_000 });
      const workspace = await store.ensureWorkspace({ platform: 'slack', externalId: 'T1', name: 'Team' });

      await proxy.cut();
      const during = store.ensureUser({ platform: 'slack', externalId: 'U1', displayName: 'U' });
      await expect(during).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.listBlockRules(workspace.id)).rejects.toBeInstanceOf(StoreUnavailableError);

      await proxy.start(port);
      const user = await store.ensureUser({ platform: 'slack', externalId: 'U1', displayName: 'U' });
      const quota = await store.quota(user.id, workspace.id, new Date('2031-05-06T12:00:00Z'));

      expect(user.externalId).toBe('U1');
      expect(quota.queued).toBe(0);
    });
  });
});
