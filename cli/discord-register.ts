import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { REST, Routes } from 'discord.js';
import { loadBotConfig, withDotEnv } from '../bot/config.ts';
import { buildCommands, discordInviteUrl, parseDiscordConfig } from '../bot/discord/index.ts';

/**
 * `npm run discord:register`: puts every command on Discord, for one guild when DISCORD_GUILD_ID is set (instant),
 * else globally, then prints the invite URL. It reads the environment and `.env` exactly as `npm run bot` does, and
 * the frame choices from the model pack in MODEL_DIR.
 */
const env = withDotEnv();
let config: ReturnType<typeof parseDiscordConfig>;
let modelDir: string;
try {
  config = parseDiscordConfig(env);
  modelDir = loadBotConfig(env).MODEL_DIR;
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
const manifest = JSON.parse(await readFile(`${modelDir}/manifest.json`, 'utf8')) as {
  video: { frameCounts: number[]; sizes: [number, number][] };
};
const rest = new REST({ api: config.DISCORD_API_URL }).setToken(config.DISCORD_TOKEN);
const body = buildCommands({ frameCounts: manifest.video.frameCounts, sizes: manifest.video.sizes });
const route =
  config.DISCORD_GUILD_ID === undefined
    ? Routes.applicationCommands(config.DISCORD_APPLICATION_ID)
    : Routes.applicationGuildCommands(config.DISCORD_APPLICATION_ID, config.DISCORD_GUILD_ID);
const saved = (await rest.put(route, { body })) as unknown[];
process.stdout.write(
  `registered ${saved.length} commands ${config.DISCORD_GUILD_ID === undefined ? 'globally' : `in guild ${config.DISCORD_GUILD_ID}`}\n` +
    `invite the bot to a server: ${discordInviteUrl(config.DISCORD_APPLICATION_ID)}\n`,
);
