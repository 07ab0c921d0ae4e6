import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { Redis } from 'ioredis';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** True when a Redis answers PING at `url` within a second. */
export async function redisReachable(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  // A refused connection is the answer we are asking for, not an error to print.
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A private `redis-server` on a spare port, for tests and demos that need their own configuration. */
export interface LocalRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the server (SIGTERM, or SIGKILL to simulate a crash) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

export async function startLocalRedis(options: { appendOnly?: boolean; password?: string } = {}): Promise<LocalRedis> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(
      'redis-server is not installed: install it (Debian: apt-get install redis-server) or set REDIS_URL to a running Redis',
    );
  }
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'pusa-redis-'));
  const url =
    options.password === undefined
      ? `redis://127.0.0.1:${port}`
      : `redis://:${encodeURIComponent(options.password)}@127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        options.appendOnly ? 'yes' : 'no',
        '--appendfsync',
        'always',
        ...(options.password === undefined ? [] : ['--requirepass', options.password]),
      ],
      // A process group of its own: Ctrl-C in a demo's terminal must not kill the server before the demo has
      // disconnected from it (every client would print connection-refused errors until it exits).
      { stdio: 'ignore', detached: true },
    );
    for (let i = 0; i < 100; i++) {
      if (await redisReachable(url)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${port} did not start`);
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const running = child;
    if (running === undefined || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  };
  await start();
  // In its own process group the server would outlive a parent that exits without destroy() (an uncaught error,
  // process.exit): take it along. Only SIGKILL of the parent leaves it running.
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    url,
    port,
    dir,
    stop,
    restart: start,
    async destroy() {
      await stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The Redis a demo should use: the one at `url` when it answers, else a private `redis-server` on a spare port.
 * `release()` stops the private one (a no-op for a shared Redis).
 */
export async function reachableOrPrivateRedis(
  url: string,
): Promise<{ url: string; private: boolean; release(): Promise<void> }> {
  if (await redisReachable(url)) return { url, private: false, release: async () => undefined };
  const local = await startLocalRedis().catch((error: unknown) => {
    throw new Error(
      `no Redis at ${url} and none could be started (${(error as Error).message}); install one (Debian: apt-get install redis-server) or set REDIS_URL`,
    );
  });
  return { url: local.url, private: true, release: () => local.destroy() };
}

/** For the demo commands: {@link reachableOrPrivateRedis} at `REDIS_URL`, or one line on stderr and exit 1. */
export async function redisForDemo(
  env: Record<string, string | undefined>,
): Promise<Awaited<ReturnType<typeof reachableOrPrivateRedis>>> {
  try {
    return await reachableOrPrivateRedis(env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}
