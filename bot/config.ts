import { existsSync } from 'node:fs';
import process from 'node:process';
import { z } from 'zod';

/** Bot settings from the environment (and an optional .env loaded by the entry point); README.md lists them. */
export const BotConfig = z.object({
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().min(1).default('pusa'),
  DATABASE_URL: z.string().min(1).default('file:./data/pusa.db'),
  ARTIFACT_DIR: z.string().min(1).default('data/artifacts'),
  MODEL_DIR: z.string().min(1).default('models/pusa-mini'),
  BOT_HEALTH_PORT: z.coerce.number().int().nonnegative().default(9464),
  JOB_ATTEMPTS: z.coerce.number().int().positive().default(3),
  /** How often the reconciler (bot/core/reconcile.ts) looks for jobs the database and the queue disagree on. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().positive().default(60_000),
  /** Jobs younger than this are not reconciled: a submit may be between its reservation and the queue's add. */
  RECONCILE_GRACE_MS: z.coerce.number().int().nonnegative().default(120_000),
  /** The web playground and operator dashboard; `off` disables it. */
  PLAYGROUND: z.enum(['on', 'off']).default('on'),
  PLAYGROUND_HOST: z.string().min(1).default('127.0.0.1'),
  PLAYGROUND_PORT: z.coerce.number().int().nonnegative().default(8787),
  PLAYGROUND_ADMIN_TOKEN: z.string().min(16).optional(),
  /** Beyond loopback: new playground sessions one client address (an IPv6 /64) may open per hour. */
  PLAYGROUND_SESSIONS_PER_HOUR: z.coerce.number().int().positive().default(5),
  /** Most segments one /long request may chain (each a clip of the pack's frames); refused past it, with this number. */
  LONG_MAX_SEGMENTS: z.coerce.number().int().positive().default(12),
  /**
   * Submits the start-up warm-up runs once, keeping nothing (bot/core/warm-up.ts), so the first burst after a restart
   * is answered as fast as later ones; the size of the bursts to expect. 0 turns it off.
   */
  WARM_UP_SUBMITS: z.coerce.number().int().nonnegative().max(2_000).default(200),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type BotConfig = z.infer<typeof BotConfig>;

export function loadBotConfig(env: NodeJS.ProcessEnv = withDotEnv()): BotConfig {
  const parsed = BotConfig.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid bot configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  return Object.freeze(parsed.data);
}

/**
 * The environment, after an optional `.env` in the working directory (variables already set win). Every bot-side
 * entry point (`npm run bot`, `npm run discord:register`) reads its settings through this, so they agree.
 */
export function withDotEnv(): NodeJS.ProcessEnv {
  if (existsSync('.env')) process.loadEnvFile('.env');
  return process.env;
}
