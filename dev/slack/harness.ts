import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bot, composeBot } from '../../bot/compose.ts';
import { localServiceConfig, type Service } from '../../bot/service.ts';
import { SlackConfig } from '../../bot/slack/config.ts';
import type { SlackFrontEnd } from '../../bot/slack/index.ts';
import { startWorker, type WorkerProcess } from '../../scripts/worker-pool.ts';
import { APP_TOKEN, BOT_TOKEN, type FakeSlack, interactive, type SendOptions, startFakeSlack } from './fake-slack.ts';

export const SIGNING_SECRET = 'test-signing-secret';
const PACK_DIR = new URL('../../models/pusa-mini', import.meta.url).pathname;

/** The local Slack, the service on a Redis prefix of its own, the Slack front end and one pusa-mini worker. */
export interface SlackStack {
  readonly fake: FakeSlack;
  readonly service: Service;
  readonly slack: SlackFrontEnd;
  readonly log: string[];
  /** Every inbound request's time to the response (HTTP) or ack (Socket Mode), ms. */
  readonly ackMs: number[];
  /** A slash command (form body) or interactive payload (object), signed and sent, or sent over the socket. */
  command(body: string): Promise<{ status: number; ms: number; text?: string }>;
  interact(payload: object): Promise<{ status: number; ms: number; text?: string }>;
  /** Stops the bot and starts it again (a bot restart: the database, the queues and the worker kept). */
  restartSlack(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSlackStack(
  options: { redisUrl?: string; socketMode?: boolean; env?: Record<string, string>; log?: (line: string) => void } = {},
): Promise<SlackStack> {
  const redisUrl = options.redisUrl ?? process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const dir = await mkdtemp(join(tmpdir(), 'pusa-slack-'));
  const prefix = `s-${randomUUID().slice(0, 8)}`;
  const fake = await startFakeSlack();
  const lines: string[] = [];
  const log = {
    info: (o: object, m: string) => void lines.push(`${m} ${JSON.stringify(o)}`),
    warn: (o: object, m: string) => {
      lines.push(`WARN ${m} ${JSON.stringify(o)}`);
      options.log?.(`WARN ${m} ${JSON.stringify(o)}`);
    },
    error: (o: object, m: string) => {
      lines.push(`ERROR ${m} ${JSON.stringify(o)}`);
      options.log?.(`ERROR ${m} ${JSON.stringify(o)}`);
    },
  };
  const service = localServiceConfig({ redisUrl, prefix, dir, modelDir: PACK_DIR });
  const slack = SlackConfig.parse({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    ...(options.socketMode ? { SLACK_APP_TOKEN: APP_TOKEN } : {}),
    SLACK_API_URL: fake.apiUrl,
    SLACK_PORT: '0',
    SLACK_HOST: '127.0.0.1',
    SLACK_FILE_ORIGINS: fake.origin,
    SLACK_API_RETRIES: '3',
    ...options.env,
  });
  const start = async () => {
    const socketReady = options.socketMode ? fake.socketConnected() : Promise.resolve();
    const started = await composeBot({ service, slack }, { log });
    await socketReady;
    return started;
  };
  let bot: Bot = await start();
  const slackOf = (b: Bot) => {
    if (b.slack === undefined) throw new Error('the bot was composed without Slack');
    return b.slack;
  };
  const worker: WorkerProcess = await startWorker(
    `slack-${prefix}`,
    {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      MODEL_DIR: PACK_DIR,
      LOG_LEVEL: 'warn',
      ORT_THREADS: '1',
    },
    options.log,
  );
  const ackMs: number[] = [];
  const signed: Omit<SendOptions, 'contentType'> = { secret: SIGNING_SECRET };
  const sendHttp = async (body: string) => {
    const result = await fake.send(slackOf(bot).eventsUrl as string, body, {
      ...signed,
      contentType: 'application/x-www-form-urlencoded',
    });
    ackMs.push(result.ms);
    return result;
  };
  return {
    fake,
    get service() {
      return bot.service;
    },
    get slack() {
      return slackOf(bot);
    },
    log: lines,
    ackMs,
    async command(body) {
      if (!options.socketMode) return sendHttp(body);
      const { ms } = await fake.sendEnvelope('slash_commands', Object.fromEntries(new URLSearchParams(body)));
      ackMs.push(ms);
      return { status: 200, ms };
    },
    async interact(payload) {
      if (!options.socketMode) return sendHttp(interactive(payload));
      const { ms } = await fake.sendEnvelope('interactive', payload);
      ackMs.push(ms);
      return { status: 200, ms };
    },
    async restartSlack() {
      await bot.close();
      bot = await start();
    },
    async stop() {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      await worker.exited;
      await bot.service.generate.obliterate({ force: true }).catch(() => undefined);
      await bot.close().catch(() => undefined);
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
