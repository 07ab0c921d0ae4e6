import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub } from '../../bot/core/hub.ts';
import { localServiceConfig, type Service, startService } from '../../bot/service.ts';
import { startPlayground } from '../../bot/web/server.ts';
import { startLocalRedis } from '../../scripts/local-redis.ts';
import { PACK_DIR } from '../helpers/pack.ts';
import { pgProxy } from '../helpers/pg-proxy.ts';
import { createTestDatabase, PG_ADMIN_URL } from '../prisma/databases.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  // Bounded: BullMQ's close can wait on a blocking connection that is still reconnecting after the Redis restart.
  for (const step of cleanup.splice(0).reverse())
    await Promise.race([step().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
});

/** The service and the playground on the given Redis and database, with the operator log collected. */
async function playgroundOn(redisUrl: string, databaseUrl?: string) {
  const dir = await mkdtemp(join(tmpdir(), 'pusa-outage-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const logs: string[] = [];
  const line = (level: string) => (o: object, m: string) => void logs.push(`${level} ${m} ${JSON.stringify(o)}`);
  const log = { info: line('info'), warn: line('warn'), error: line('error') };
  const hub = createHub();
  const prefix = `outage-${process.pid}-${Date.now()}`;
  const service: Service = await startService(
    localServiceConfig({ redisUrl, prefix, dir, modelDir: PACK_DIR, databaseUrl }),
    { deliver: (d) => hub.deliver(d), onUpdate: (u) => hub.update(u), log },
  );
  cleanup.push(() => service.close());
  const playground = await startPlayground(service, hub, { host: '127.0.0.1', port: 0, log });
  cleanup.push(() => playground.close());
  const { csrfToken } = (await (await fetch(`${playground.url}/api/session`)).json()) as { csrfToken: string };
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${playground.url}${path}?user=ada`, {
      signal: AbortSignal.timeout(15_000),
      ...(body === undefined
        ? {}
        : {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken, origin: playground.url },
            body: JSON.stringify(body),
          }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
  return { service, logs, call };
}

const t2v = { text: '/t2v a red circle moves right --steps 2 --frames 17' };

describe('the playground while its queue or database is away (a real redis-server stopped, PostgreSQL cut)', () => {
  it('answers 503 with Retry-After and "the queue is unavailable" at once while Redis is down, and queues nothing', async () => {
    const redis = await startLocalRedis();
    cleanup.push(() => redis.destroy());
    const { service, call } = await playgroundOn(redis.url);
    expect((await call('/api/me')).status).toBe(200);

    await redis.stop('SIGKILL');
    await new Promise<void>((resolve) => {
      const check = () => (service.frontEnd.queueAvailable() ? setTimeout(check, 20) : resolve());
      check();
    });
    const started = Date.now();
    const answers = [await call('/api/me'), await call('/api/command', t2v)];
    const tookMs = Date.now() - started;
    await redis.restart();

    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe('60');
      expect(JSON.parse(answer.body)).toMatchObject({ ok: false, code: 'Unavailable' });
      expect(JSON.parse(answer.body).error).toMatch(/^the queue is unavailable right now .*try again in a minute$/);
    }
    expect(tookMs).toBeLessThan(2_000);
    // Back: the refused /t2v never became a job.
    const deadline = Date.now() + 10_000;
    while (!service.frontEnd.queueAvailable() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const history = JSON.parse((await call('/api/command', { text: '/history' })).body) as { history: unknown[] };
    expect(history.history).toEqual([]);
  });

  it('answers 503 with Retry-After and says the database is unreachable, never the driver error; the log keeps the cause without the password', async () => {
    const database = await createTestDatabase('postgresql');
    cleanup.push(() => database.drop());
    const admin = new URL(PG_ADMIN_URL);
    const proxy = pgProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
    const port = await proxy.start();
    cleanup.push(() => proxy.cut());
    const url = new URL(database.url);
    url.port = String(port);
    url.password = 'Sekr3t-Pw'; // the server trusts everyone: a password that must never be shown
    const { logs, call } = await playgroundOn(REDIS_URL, url.toString());
    const up = await call('/api/me');
    expect(up.status, `${up.body}\n${logs.join('\n')}`).toBe(200);

    await proxy.cut();
    const answers = [
      await call('/api/me'),
      await call('/api/command', t2v),
      await call('/api/command', { text: '/quota' }),
    ];

    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe('60');
      expect(JSON.parse(answer.body).error).toMatch(
        /^the bot cannot reach its database right now .*try again in a minute$/,
      );
      expect(answer.body).not.toMatch(/Sekr3t|127\.0\.0\.1|prisma|reach database server/i);
    }
    const causes = logs.filter((l) => l.includes('database or queue unavailable'));
    expect(causes.length).toBeGreaterThanOrEqual(2);
    expect(causes.join('\n')).toMatch(/unavailable for \w+/);
    expect(logs.join('\n')).not.toContain('Sekr3t');
  });
});
