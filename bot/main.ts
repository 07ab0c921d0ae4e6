import { createServer } from 'node:http';
import process from 'node:process';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { databaseProblem } from '../prisma/errors.ts';
import { redactUrl, secretScrubber } from '../prisma/url.ts';
import { redisProblem } from '../queue/redis-check.ts';
import { loadBotConfig } from './config.ts';
import { createHub } from './core/hub.ts';
import { parseDiscordConfig, startDiscord, wantsDiscord } from './discord/index.ts';
import { listen, listenProblem } from './listen.ts';
import { startService } from './service.ts';
import { loadSlackConfig, startSlack } from './slack/index.ts';
import { startPlayground } from './web/server.ts';

/**
 * `npm run bot`: the bot host. Owns the database and the artifact store, runs the front-end core and the delivery
 * consumer, and serves health and metrics. Chat adapters (Discord, Slack) attach here when their credentials are
 * configured; without any, the host still delivers jobs submitted by other front ends sharing its Redis and database.
 */
const config = loadBotConfig();
// Every line this process writes loses the passwords of DATABASE_URL and REDIS_URL, whoever quoted them.
const scrub = secretScrubber([config.DATABASE_URL, config.REDIS_URL]);
const log = pino({ level: config.LOG_LEVEL, base: { service: 'bot' }, hooks: { streamWrite: scrub } });
const crash = (error: unknown) => {
  process.stderr.write(`bot: unexpected failure: ${scrub(inspect(error))}\n`);
  process.exit(1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
// Deliveries go to the front end that owns each job's origin: the playground here, Discord and Slack when configured.
const redisTrouble = await redisProblem(config.REDIS_URL);
if (redisTrouble !== undefined) {
  process.stderr.write(`bot: ${redisTrouble}\n`);
  process.exit(1);
}
const hub = createHub();
const service = await startService(config, {
  deliver: async (delivery) => {
    await hub.deliver(delivery);
    log.info({ jobId: delivery.jobId, requestId: delivery.requestId, kind: delivery.kind }, 'delivered');
  },
  onUpdate: (update) => hub.update(update),
  log,
}).catch((error: unknown) => {
  // The database is migrated first: a wrong password or an unreachable server is one line naming the setting.
  const line = databaseProblem(error, redactUrl(config.DATABASE_URL));
  if (line === undefined) return crash(error);
  process.stderr.write(`bot: ${scrub(line)}\n`);
  process.exit(1);
});
/** A port the host cannot bind ends it with one line naming the setting to change, not a stack trace. */
async function orExit<T>(start: Promise<T>, where: { setting: string; host: string; port: number }): Promise<T> {
  try {
    return await start;
  } catch (error) {
    const line = listenProblem(error, where);
    if (line === undefined) throw error;
    process.stderr.write(`bot: ${line}\n`);
    await service.close().catch(() => undefined);
    process.exit(1);
  }
}
const playground =
  config.PLAYGROUND === 'on'
    ? await orExit(
        startPlayground(service, hub, {
          host: config.PLAYGROUND_HOST,
          port: config.PLAYGROUND_PORT,
          log,
          maxNewSessionsPerIpPerHour: config.PLAYGROUND_SESSIONS_PER_HOUR,
          ...(config.PLAYGROUND_ADMIN_TOKEN === undefined ? {} : { adminToken: config.PLAYGROUND_ADMIN_TOKEN }),
        }),
        { setting: 'PLAYGROUND_PORT', host: config.PLAYGROUND_HOST, port: config.PLAYGROUND_PORT },
      )
    : undefined;
if (playground !== undefined) log.info({ url: playground.url }, 'playground ready');

// Discord when DISCORD_TOKEN is set (REST at DISCORD_API_URL, gateway from its /gateway/bot).
const discord = wantsDiscord(process.env)
  ? await startDiscord(service, parseDiscordConfig(process.env), log)
  : undefined;
if (discord !== undefined) {
  hub.register('discord', { deliver: (d) => discord.deliver(d), update: (u) => discord.onUpdate(u) });
  log.info({}, 'discord ready');
}

// Slack when SLACK_BOT_TOKEN is set (HTTP with signing, or Socket Mode with SLACK_APP_TOKEN).
const slackConfig = loadSlackConfig(process.env);
const slack =
  slackConfig === null
    ? undefined
    : await orExit(startSlack(service, slackConfig, log), {
        setting: 'SLACK_PORT',
        host: slackConfig.SLACK_HOST,
        port: slackConfig.SLACK_PORT,
      });
if (slack !== undefined) {
  hub.register('slack', { deliver: (d) => slack.deliver(d), update: (u) => slack.onUpdate(u) });
  log.info({ mode: slack.eventsUrl === undefined ? 'socket' : 'http', url: slack.eventsUrl }, 'slack ready');
}

const registry = new Registry();
collectDefaultMetrics({ register: registry });
new Gauge({
  name: 'pusa_queue_jobs',
  help: 'generate jobs by state',
  labelNames: ['state'],
  registers: [registry],
  async collect() {
    const counts = await service.frontEnd.operator.queueCounts();
    for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
  },
});

const health = createServer(async (req, res) => {
  if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
    return;
  }
  const { database, queue } = await service.frontEnd.operator.health();
  const ok = database && queue;
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok, database, queue }));
});
await orExit(listen(health, config.BOT_HEALTH_PORT, '127.0.0.1'), {
  setting: 'BOT_HEALTH_PORT',
  host: '127.0.0.1',
  port: config.BOT_HEALTH_PORT,
});
log.info({ port: config.BOT_HEALTH_PORT }, 'bot ready');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'draining: no new requests; deliveries in progress finish');
  service.frontEnd.drain();
  await playground?.close();
  await slack?.stop();
  await discord?.close();
  await service.close();
  health.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
