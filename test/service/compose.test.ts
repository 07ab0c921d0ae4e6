import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BotStartProblem, composeBot } from '../../bot/compose.ts';
import { listen } from '../../bot/listen.ts';
import { localServiceConfig } from '../../bot/service.ts';
import { freePort } from '../../scripts/local-redis.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('composeBot', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('closes the parts it started when a later one cannot bind its port, and names the setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-compose-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const busy = createServer();
    await listen(busy, 0, '127.0.0.1');
    cleanups.push(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const busyPort = (busy.address() as { port: number }).port;
    const playgroundPort = await freePort();
    const service = localServiceConfig({
      redisUrl: REDIS_URL,
      prefix: `c-${randomUUID().slice(0, 8)}`,
      dir,
      modelDir: PACK_DIR,
    });

    const started = composeBot({
      service,
      playground: { host: '127.0.0.1', port: playgroundPort },
      health: { host: '127.0.0.1', port: busyPort },
    });

    const error = await started.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BotStartProblem);
    expect((error as Error).message).toBe(
      `cannot listen on 127.0.0.1:${busyPort} (another program is using it); set BOT_HEALTH_PORT to another port (0 picks a free one)`,
    );
    // The playground, started before the health server, was closed again: its port is free.
    await expect(fetch(`http://127.0.0.1:${playgroundPort}/`)).rejects.toThrow();
    const again = createServer();
    await listen(again, playgroundPort, '127.0.0.1');
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });
});
