import type { BotConfig } from './config.ts';
import type { Delivery, JobUpdate } from './core/events.ts';
import type { ImageCheck } from './core/front-end.ts';
import { createHub, type FrontEndHandlers } from './core/hub.ts';
import {
  type DiscordConfig,
  type DiscordFrontEnd,
  parseDiscordConfig,
  startDiscord,
  wantsDiscord,
} from './discord/index.ts';
import { startHealth } from './health.ts';
import { listenProblem } from './listen.ts';
import { type ServiceConfig, startService } from './service.ts';
import { loadSlackConfig, type SlackConfig, type SlackFrontEnd, startSlack } from './slack/index.ts';
import { type PlaygroundOptions, startPlayground } from './web/server.ts';

/** What the bot host runs: the service, and each front end whose settings are present. */
export interface BotSettings {
  readonly service: ServiceConfig;
  /** The web playground and operator dashboard; absent, none. */
  readonly playground?: PlaygroundOptions | undefined;
  /** Discord (REST at `DISCORD_API_URL`, the gateway from its `/gateway/bot`); absent, none. */
  readonly discord?: DiscordConfig | undefined;
  /** Slack (HTTP with signing, or Socket Mode with `SLACK_APP_TOKEN`; the Web API at `SLACK_API_URL`); absent, none. */
  readonly slack?: SlackConfig | undefined;
  /** Health and Prometheus metrics; absent, none. */
  readonly health?: { readonly host: string; readonly port: number } | undefined;
}

/** The logger every part is given (pino fits). */
export interface BotLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

/** What a caller may put in place of the defaults. */
export interface BotOverrides {
  /** Default: nothing is logged. */
  readonly log?: BotLog;
  /** How submitted images are checked before they are stored (default: the core's decode with sharp). */
  readonly imageCheck?: ImageCheck;
  /**
   * Front ends composed by the caller, by the platform of the jobs they own (`local` for a program that submits
   * through `service.frontEnd` itself). Registered before the delivery consumer starts, so none of theirs is missed.
   */
  readonly frontEnds?: Readonly<Record<string, FrontEndHandlers>>;
  /** Sees every delivery once it was handed to its front end, and every update (a terminal's log, say). */
  readonly watch?: { delivered?(delivery: Delivery): void; update?(update: JobUpdate): void };
}

/** A part that could not start for a reason an operator fixes with a setting; `message` is the one line to print. */
export class BotStartProblem extends Error {
  override readonly name = 'BotStartProblem';
}

const SILENT: BotLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The bot's settings from the environment, as `npm run bot` reads them: a front end is on when its settings are
 * (the playground unless `PLAYGROUND=off`, Discord when `DISCORD_TOKEN` is set, Slack when `SLACK_BOT_TOKEN` is).
 */
export function botSettingsFromEnv(config: BotConfig, env: Record<string, string | undefined>): BotSettings {
  const slack = loadSlackConfig(env);
  return {
    service: config,
    ...(config.PLAYGROUND === 'on'
      ? {
          playground: {
            host: config.PLAYGROUND_HOST,
            port: config.PLAYGROUND_PORT,
            maxNewSessionsPerIpPerHour: config.PLAYGROUND_SESSIONS_PER_HOUR,
            ...(config.PLAYGROUND_ADMIN_TOKEN === undefined ? {} : { adminToken: config.PLAYGROUND_ADMIN_TOKEN }),
          },
        }
      : {}),
    ...(wantsDiscord(env) ? { discord: parseDiscordConfig(env) } : {}),
    ...(slack === null ? {} : { slack }),
    health: { host: '127.0.0.1', port: config.BOT_HEALTH_PORT },
  };
}

/**
 * The one composition root of the bot host, used by `npm run bot`, the demos and the tests alike: the service
 * (database, artifact store, queues, front-end core, delivery consumer, reconciler), a hub that routes each
 * delivery to the front end owning its job, each configured front end, and the health server. Where each platform
 * is comes from its settings (`DISCORD_API_URL`, `SLACK_API_URL`), so a local stand-in needs nothing else. When a
 * part fails to start, what already started is closed again; a port it cannot bind is a {@link BotStartProblem}.
 */
export async function composeBot(settings: BotSettings, overrides: BotOverrides = {}) {
  const log = overrides.log ?? SILENT;
  const hub = createHub();
  for (const [platform, handlers] of Object.entries(overrides.frontEnds ?? {})) hub.register(platform, handlers);
  const service = await startService(settings.service, {
    deliver: async (delivery) => {
      await hub.deliver(delivery);
      overrides.watch?.delivered?.(delivery);
      log.info({ jobId: delivery.jobId, requestId: delivery.requestId, kind: delivery.kind }, 'delivered');
    },
    onUpdate: (update) => {
      hub.update(update);
      overrides.watch?.update?.(update);
    },
    log,
    ...(overrides.imageCheck === undefined ? {} : { imageCheck: overrides.imageCheck }),
  });
  const closers: (() => Promise<void>)[] = [];
  /** Starts a part; on failure closes everything before it, and names the setting when its port was the trouble. */
  async function part<TPart>(start: () => Promise<TPart>, where?: { setting: string; host: string; port: number }) {
    try {
      return await start();
    } catch (error) {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      await service.close().catch(() => undefined);
      const line = where === undefined ? undefined : listenProblem(error, where);
      throw line === undefined ? error : new BotStartProblem(line, { cause: error });
    }
  }

  const { playground: web, discord: discordConfig, slack: slackConfig, health: healthAt } = settings;
  const playground =
    web === undefined
      ? undefined
      : await part(() => startPlayground(service, hub, web), {
          setting: 'PLAYGROUND_PORT',
          host: web.host,
          port: web.port,
        });
  if (playground !== undefined) {
    closers.push(() => playground.close());
    log.info({ url: playground.url }, 'playground ready');
  }
  let discord: DiscordFrontEnd | undefined;
  if (discordConfig !== undefined) {
    const started = await part(() => startDiscord(service, discordConfig, log));
    discord = started;
    closers.push(() => started.close());
    hub.register('discord', { deliver: (d) => started.deliver(d), update: (u) => started.onUpdate(u) });
    log.info({}, 'discord ready');
  }
  let slack: SlackFrontEnd | undefined;
  if (slackConfig !== undefined) {
    const started = await part(() => startSlack(service, slackConfig, log), {
      setting: 'SLACK_PORT',
      host: slackConfig.SLACK_HOST,
      port: slackConfig.SLACK_PORT,
    });
    slack = started;
    closers.push(() => started.stop());
    hub.register('slack', { deliver: (d) => started.deliver(d), update: (u) => started.onUpdate(u) });
    log.info({ mode: started.eventsUrl === undefined ? 'socket' : 'http', url: started.eventsUrl }, 'slack ready');
  }
  const health =
    healthAt === undefined
      ? undefined
      : await part(() => startHealth(service, healthAt), {
          setting: 'BOT_HEALTH_PORT',
          host: healthAt.host,
          port: healthAt.port,
        });

  return {
    service,
    hub,
    playground,
    discord,
    slack,
    health,
    /** Stops taking requests, closes the front ends and then the service; deliveries in progress finish first. */
    async close() {
      service.frontEnd.drain();
      await playground?.close();
      await slack?.stop();
      await discord?.close();
      await service.close();
      // Last: health answers while the rest drains.
      await health?.close();
    },
  };
}
export type Bot = Awaited<ReturnType<typeof composeBot>>;
