import { Client, Events, GatewayIntentBits } from 'discord.js';
import type { Delivery, JobUpdate } from '../core/events.ts';
import type { FrontDoor } from '../front-door.ts';
import type { DiscordConfig } from './config.ts';
import { createInteractionHandler } from './handle-interaction.ts';
import { createJobMessages } from './jobs.ts';
import type { DiscordLog } from './log.ts';

export { buildCommands } from './commands/index.ts';
export { DiscordConfig, parseDiscordConfig, wantsDiscord } from './config.ts';
export { DISCORD_BOT_PERMISSIONS, DISCORD_SCOPES, discordInviteUrl, discordPermissionBits } from './invite.ts';

/**
 * Connects the Discord front end: a discord.js client (REST at `DISCORD_API_URL`, gateway from its
 * `GET /gateway/bot`), the interaction handler and the job messages. Resolves once the gateway is READY.
 * `composeBot` (bot/compose.ts) routes the service's deliveries and updates of Discord jobs to it.
 */
export async function startDiscord(service: FrontDoor, config: DiscordConfig, log: DiscordLog) {
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { api: config.DISCORD_API_URL },
    waitGuildTimeout: 1000,
    // Prompts are user text: no message of ours notifies @everyone, @here, a role or a member unless it says so.
    allowedMentions: { parse: [] },
  });
  const jobs = createJobMessages({ client, service, log, intervalMs: config.DISCORD_PROGRESS_INTERVAL_MS });
  const handle = createInteractionHandler({ client, service, config, jobs, log });
  client.on(Events.InteractionCreate, (interaction) => void handle(interaction));
  client.on(Events.Error, (error) => log.warn({ err: error.message }, 'discord client error'));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(config.DISCORD_TOKEN);
  await ready;
  log.info({ user: client.user?.id }, 'discord connected');
  return {
    client,
    deliver: (delivery: Delivery) => jobs.deliver(delivery),
    onUpdate: (update: JobUpdate) => jobs.onUpdate(update),
    async close() {
      await client.destroy();
    },
  };
}
export type DiscordFrontEnd = Awaited<ReturnType<typeof startDiscord>>;
