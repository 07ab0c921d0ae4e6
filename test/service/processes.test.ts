import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalDiscord } from '../../dev/discord/local-discord.ts';
import { BOT_TOKEN, slashCommand, startFakeSlack } from '../../dev/slack/fake-slack.ts';
import { freePort, startLocalRedis } from '../../scripts/local-redis.ts';
import { PACK_DIR } from '../helpers/pack.ts';
import { startPasswordRefuser } from '../helpers/pg-refuser.ts';

const root = new URL('../..', import.meta.url).pathname;
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Starts `bot/main.ts` or `worker/main.ts` as `npm run bot|worker` would, collecting its output. */
function start(entry: 'bot' | 'worker', env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', `${entry}/main.ts`], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`${entry} never printed ${pattern}:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, waitFor, output: () => output };
}

describe('the bot and worker processes', () => {
  it('serve health and Prometheus metrics, and exit 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-proc-'));
    dirs.push(dir);
    const [botPort, workerPort] = [await freePort(), await freePort()];
    const prefix = `proc-${process.pid}-${Date.now()}`;
    const bot = start('bot', {
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      DATABASE_URL: `file:${join(dir, 'pusa.db')}`,
      ARTIFACT_DIR: join(dir, 'artifacts'),
      MODEL_DIR: PACK_DIR,
      BOT_HEALTH_PORT: String(botPort),
    });
    const worker = start('worker', {
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      MODEL_DIR: PACK_DIR,
      WORKER_HEALTH_PORT: String(workerPort),
      WORKER_ID: 'health-check',
    });
    await Promise.all([bot.waitFor(/bot ready/), worker.waitFor(/worker ready/)]);

    const botHealth = await fetch(`http://127.0.0.1:${botPort}/healthz`);
    const botMetrics = await (await fetch(`http://127.0.0.1:${botPort}/metrics`)).text();
    const workerHealth = await fetch(`http://127.0.0.1:${workerPort}/healthz`);
    const workerMetrics = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();

    expect(botHealth.status).toBe(200);
    expect(await botHealth.json()).toEqual({ ok: true, database: true, queue: true });
    expect(botMetrics).toMatch(/pusa_queue_jobs\{state="waiting"\} 0/);
    expect(workerHealth.status).toBe(200);
    expect(await workerHealth.json()).toMatchObject({
      ok: true,
      workerId: 'health-check',
      model: 'pusa-mini',
      job: null,
    });
    expect(workerMetrics).toMatch(/pusa_worker_busy 0/);
    expect(workerMetrics).toMatch(/pusa_worker_gpu_seconds_total/);

    bot.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    expect(await worker.exited).toBe(0);
    expect(bot.output()).toMatch(/draining: no new requests/);
    expect(bot.output() + worker.output()).not.toMatch(/token|secret/i);
  });

  it('says in one line which setting to change when a port is taken, and exits 1 without a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-proc-'));
    dirs.push(dir);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      // Two bots, each with a database of its own: two processes migrating one new SQLite file at once collide.
      const base = (name: string) => ({
        REDIS_URL,
        QUEUE_PREFIX: `proc-port-${process.pid}-${Date.now()}`,
        DATABASE_URL: `file:${join(dir, `${name}.db`)}`,
        ARTIFACT_DIR: join(dir, `${name}-artifacts`),
        MODEL_DIR: PACK_DIR,
      });
      const health = start('bot', { ...base('health'), PLAYGROUND: 'off', BOT_HEALTH_PORT: String(port) });
      const playground = start('bot', {
        ...base('playground'),
        PLAYGROUND: 'on',
        PLAYGROUND_HOST: '127.0.0.1',
        PLAYGROUND_PORT: String(port),
        BOT_HEALTH_PORT: String(await freePort()),
      });

      const worker = start('worker', { REDIS_URL, MODEL_DIR: PACK_DIR, WORKER_HEALTH_PORT: String(port) });

      expect(await health.exited).toBe(1);
      expect(await playground.exited).toBe(1);
      expect(await worker.exited).toBe(1);
      expect(worker.output()).toContain(
        `worker: cannot listen on 127.0.0.1:${port} (another program is using it); set WORKER_HEALTH_PORT`,
      );
      expect(worker.output()).not.toMatch(/^\s+at /m);
      expect(health.output()).toContain(
        `bot: cannot listen on 127.0.0.1:${port} (another program is using it); set BOT_HEALTH_PORT`,
      );
      expect(playground.output()).toContain(
        `cannot listen on 127.0.0.1:${port} (another program is using it); set PLAYGROUND_PORT`,
      );
      for (const out of [health.output(), playground.output()]) expect(out).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('refuses a wrong Redis password in one line that does not print it, before starting anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-proc-'));
    dirs.push(dir);
    const redis = await startLocalRedis({ password: 'the-right-one' });
    try {
      const wrong = redis.url.replace('the-right-one', 'hunter2-wrong');
      const bot = start('bot', {
        REDIS_URL: wrong,
        DATABASE_URL: `file:${join(dir, 'pusa.db')}`,
        ARTIFACT_DIR: join(dir, 'artifacts'),
        MODEL_DIR: PACK_DIR,
        PLAYGROUND: 'off',
        BOT_HEALTH_PORT: String(await freePort()),
      });
      const worker = start('worker', { REDIS_URL: wrong, MODEL_DIR: PACK_DIR, WORKER_HEALTH_PORT: '0' });

      expect(await bot.exited).toBe(1);
      expect(await worker.exited).toBe(1);
      for (const [name, run] of [
        ['bot', bot],
        ['worker', worker],
      ] as const) {
        expect(run.output()).toContain(
          `${name}: Redis at redis://:***@127.0.0.1:${redis.port} refused the user name or password in REDIS_URL`,
        );
        expect(run.output()).not.toContain('hunter2-wrong');
        expect(run.output()).not.toMatch(/ready|^\s+at /m);
      }
    } finally {
      await redis.destroy();
    }
  });

  it('refuses a wrong database password, or an unreachable database, in one line that never prints the password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-proc-'));
    dirs.push(dir);
    const server = await startPasswordRefuser();
    const closed = await freePort();
    try {
      const env = (databaseUrl: string) => ({
        DATABASE_URL: databaseUrl,
        REDIS_URL,
        QUEUE_PREFIX: `t-db-${closed}`,
        ARTIFACT_DIR: join(dir, 'artifacts'),
        MODEL_DIR: PACK_DIR,
        PLAYGROUND: 'off',
        BOT_HEALTH_PORT: '0',
      });
      // A server that demands a password and refuses it; and no server at all, with an empty user name (the old
      // redaction matched `user:` only, so this one printed the password).
      const refused = start('bot', env(`postgresql://pusa:Hunter2%40Pw@127.0.0.1:${server.port}/pusa`));
      const unreachable = start('bot', env(`postgresql://:Hunter2%40Pw@127.0.0.1:${closed}/pusa`));
      const worker = start('worker', {
        ...env(`postgresql://pusa:Hunter2%40Pw@127.0.0.1:${server.port}/pusa`),
        LOG_LEVEL: 'debug',
        WORKER_HEALTH_PORT: '0',
      });

      expect(await refused.exited).toBe(1);
      expect(await unreachable.exited).toBe(1);
      await worker.waitFor(/worker ready/);
      worker.child.kill('SIGTERM');
      await worker.exited;

      expect(refused.output().trim()).toBe(
        `bot: the database at postgresql://pusa:***@127.0.0.1:${server.port}/pusa refused the user name or password in DATABASE_URL; correct DATABASE_URL`,
      );
      expect(unreachable.output().trim()).toMatch(
        new RegExp(
          `^bot: the database at postgresql://:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/pusa is not reachable \\(.+\\); start it or correct DATABASE_URL$`,
        ),
      );
      for (const run of [refused, unreachable, worker]) expect(run.output()).not.toMatch(/Hunter2|Pw@|%40Pw/);
    } finally {
      await server.stop();
    }
  });

  it('serves Slack from `npm run bot` when Slack credentials are configured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-proc-'));
    dirs.push(dir);
    const fake = await startFakeSlack();
    const [botPort, slackPort] = [await freePort(), await freePort()];
    try {
      const bot = start('bot', {
        REDIS_URL,
        QUEUE_PREFIX: `proc-slack-${process.pid}-${Date.now()}`,
        DATABASE_URL: `file:${join(dir, 'pusa.db')}`,
        ARTIFACT_DIR: join(dir, 'artifacts'),
        MODEL_DIR: PACK_DIR,
        BOT_HEALTH_PORT: String(botPort),
        PLAYGROUND: 'off',
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: 'process-test-secret',
        SLACK_API_URL: fake.apiUrl,
        SLACK_HOST: '127.0.0.1',
        SLACK_PORT: String(slackPort),
      });
      await bot.waitFor(/slack ready/);

      const signed = await fake.send(`http://127.0.0.1:${slackPort}/slack/events`, slashCommand('/quota', ''), {
        secret: 'process-test-secret',
        contentType: 'application/x-www-form-urlencoded',
      });
      const forged = await fake.send(`http://127.0.0.1:${slackPort}/slack/events`, slashCommand('/quota', ''), {
        secret: 'wrong-secret',
        contentType: 'application/x-www-form-urlencoded',
      });

      expect(signed.status).toBe(200);
      expect(forged.status).toBe(401);
      bot.child.kill('SIGTERM');
      expect(await bot.exited).toBe(0);
    } finally {
      await fake.close();
    }
  });

  it('serves Discord from `npm run bot` when a Discord token is configured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-proc-'));
    dirs.push(dir);
    const local = await startLocalDiscord({
      token: 'process-test-token',
      applicationId: '800000000000000009',
      heartbeatIntervalMs: 1000,
    });
    try {
      const bot = start('bot', {
        REDIS_URL,
        QUEUE_PREFIX: `proc-discord-${process.pid}-${Date.now()}`,
        DATABASE_URL: `file:${join(dir, 'pusa.db')}`,
        ARTIFACT_DIR: join(dir, 'artifacts'),
        MODEL_DIR: PACK_DIR,
        BOT_HEALTH_PORT: String(await freePort()),
        PLAYGROUND: 'off',
        DISCORD_TOKEN: 'process-test-token',
        DISCORD_APPLICATION_ID: '800000000000000009',
        DISCORD_API_URL: local.apiUrl,
      });
      await bot.waitFor(/discord ready/);

      expect(local.gatewayStats().identifies).toBe(1);
      bot.child.kill('SIGTERM');
      expect(await bot.exited).toBe(0);
      expect(bot.output()).not.toContain('process-test-token');
    } finally {
      await local.close();
    }
  });

  it('refuse to start with one message that lists every invalid setting', async () => {
    const worker = start('worker', { EXECUTION_PROVIDER: 'tpu', WORKER_HEALTH_PORT: 'eighty', REDIS_URL: 'not a url' });

    const code = await worker.exited;

    expect(code).not.toBe(0);
    expect(worker.output()).toMatch(
      /invalid worker configuration:[\s\S]*REDIS_URL[\s\S]*EXECUTION_PROVIDER[\s\S]*WORKER_HEALTH_PORT/,
    );
  });
});
