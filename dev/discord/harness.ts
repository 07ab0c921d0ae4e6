import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bot, type BotLog, composeBot } from '../../bot/compose.ts';
import { parseDiscordConfig } from '../../bot/discord/config.ts';
import type { DiscordFrontEnd } from '../../bot/discord/index.ts';
import { localServiceConfig, type Service } from '../../bot/service.ts';
import { startWorker, type WorkerProcess } from '../../scripts/worker-pool.ts';
import { type LocalDiscord, type StoredMessage, startLocalDiscord } from './local-discord.ts';

export const TOKEN = 'test-bot-token-not-secret';
export const APP_ID = '800000000000000001';
/** Progress edit interval in tests: pusa-mini finishes in under a second, so the production 2 s would show none. */
export const PROGRESS_MS = 150;

/** The local Discord, the service with its own database and Redis prefix, one pusa-mini worker and the bot. */
export interface DiscordStack {
  readonly local: LocalDiscord;
  readonly service: Service;
  readonly discord: DiscordFrontEnd;
  readonly workers: WorkerProcess[];
  readonly logs: string[];
  /** Stops the bot (Discord client and service) and starts it again on the same database and queue. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDiscordStack(options: { redisUrl?: string; modelDir?: string; dataDir?: string } = {}) {
  const redisUrl = options.redisUrl ?? 'redis://127.0.0.1:6379';
  const modelDir = options.modelDir ?? new URL('../../models/pusa-mini', import.meta.url).pathname;
  const dir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'pusa-discord-')));
  const prefix = `td-${randomUUID().slice(0, 8)}`;
  const logs: string[] = [];
  const log: BotLog = {
    info: (o, m) => void logs.push(`info ${m} ${JSON.stringify(o)}`),
    warn: (o, m) => void logs.push(`warn ${m} ${JSON.stringify(o)}`),
    error: (o, m) => void logs.push(`error ${m} ${JSON.stringify(o)}`),
  };
  const local = await startLocalDiscord({ token: TOKEN, applicationId: APP_ID, heartbeatIntervalMs: 1000 });
  const botConfig = localServiceConfig({ redisUrl, prefix, dir, modelDir });
  const config = parseDiscordConfig({
    DISCORD_TOKEN: TOKEN,
    DISCORD_APPLICATION_ID: APP_ID,
    DISCORD_API_URL: local.apiUrl,
    DISCORD_ATTACHMENT_HOSTS: '127.0.0.1',
    DISCORD_DOWNLOAD_MAX_BYTES: String(2 * 1024 * 1024),
    DISCORD_PROGRESS_INTERVAL_MS: String(PROGRESS_MS),
    // the test's `admin` member operates the deployment; `manager` has Manage Server only (discord.test.ts)
    DISCORD_OPERATOR_IDS: '700000000000000003',
  });
  const boot = () => composeBot({ service: botConfig, discord: config }, { log });
  const workers: WorkerProcess[] = [];
  let bot: Bot = await boot();
  workers.push(
    await startWorker('w1', {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      MODEL_DIR: modelDir,
      LOG_LEVEL: 'warn',
      ORT_THREADS: '2',
    }),
  );
  const stack: DiscordStack = {
    local,
    get service() {
      return bot.service;
    },
    get discord() {
      if (bot.discord === undefined) throw new Error('the bot was composed without Discord');
      return bot.discord;
    },
    workers,
    logs,
    async restart() {
      await bot.close();
      bot = await boot();
    },
    async stop() {
      await Promise.allSettled(
        workers.map(async (w) => {
          if (w.child.exitCode === null) w.child.kill('SIGKILL');
          await w.exited;
        }),
      );
      await bot.service.generate.obliterate({ force: true }).catch(() => undefined);
      await bot.close();
      await local.close();
      if (options.dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** The posted result of an interaction: its original message with an MP4, or a channel reply to it. */
export function resultOf(local: LocalDiscord, interactionId: string): StoredMessage | undefined {
  const original = local.interactions.get(interactionId)?.originalId;
  if (original === undefined) return undefined;
  for (const m of local.messages.values())
    if (
      !m.deleted &&
      (m.id === original || m.referenceId === original) &&
      m.attachments.some((a) => a.filename.endsWith('.mp4'))
    )
      return m;
  return undefined;
}

/** The custom ids of a message's buttons. */
export const buttonIds = (m: StoredMessage) =>
  (m.components as { components?: { custom_id?: string }[] }[]).flatMap((row) =>
    (row.components ?? []).map((c) => c.custom_id ?? ''),
  );

export const opt = (name: string, type: number, value: unknown) => ({ name, type, value });
