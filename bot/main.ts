import process from 'node:process';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { databaseProblem } from '../prisma/errors.ts';
import { redactUrl, secretScrubber } from '../prisma/url.ts';
import { redisProblem } from '../queue/redis-check.ts';
import { BotStartProblem, botSettingsFromEnv, composeBot } from './compose.ts';
import { loadBotConfig, withDotEnv } from './config.ts';

/**
 * `npm run bot`: the bot host. Owns the database and the artifact store, runs the front-end core and the delivery
 * consumer, and serves health and metrics. Chat adapters (Discord, Slack) attach here when their credentials are
 * configured; without any, the host still delivers jobs submitted by other front ends sharing its Redis and database.
 */
const env = withDotEnv();
const config = loadBotConfig(env);
// Every line this process writes loses the passwords of DATABASE_URL and REDIS_URL, whoever quoted them.
const scrub = secretScrubber([config.DATABASE_URL, config.REDIS_URL]);
const log = pino({ level: config.LOG_LEVEL, base: { service: 'bot' }, hooks: { streamWrite: scrub } });
const crash = (error: unknown) => {
  process.stderr.write(`bot: unexpected failure: ${scrub(inspect(error))}\n`);
  process.exit(1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
const redisTrouble = await redisProblem(config.REDIS_URL);
if (redisTrouble !== undefined) {
  process.stderr.write(`bot: ${redisTrouble}\n`);
  process.exit(1);
}
// A port the host cannot bind, a wrong database password or an unreachable database server ends it with one line
// naming the setting to change, not a stack trace.
const bot = await composeBot(botSettingsFromEnv(config, env), { log }).catch((error: unknown) => {
  if (error instanceof BotStartProblem) {
    process.stderr.write(`bot: ${scrub(error.message)}\n`);
    process.exit(1);
  }
  const line = databaseProblem(error, redactUrl(config.DATABASE_URL));
  if (line === undefined) return crash(error);
  process.stderr.write(`bot: ${scrub(line)}\n`);
  process.exit(1);
});
log.info({ port: config.BOT_HEALTH_PORT }, 'bot ready');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'draining: no new requests; deliveries in progress finish');
  await bot?.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
