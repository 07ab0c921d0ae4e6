import { z } from 'zod';

const hostList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((host) => host.trim().toLowerCase())
      .filter((host) => host !== ''),
  )
  .pipe(z.array(z.string().min(1)).min(1, 'list at least one host'));

/**
 * Discord settings from the environment (README.md lists them). `DISCORD_API_URL` points discord.js at another
 * Discord (the local stand-in in tests); the gateway URL then comes from its `GET /gateway/bot`.
 */
export const DiscordConfig = z.object({
  DISCORD_TOKEN: z.string().min(1, 'the bot token is required'),
  DISCORD_APPLICATION_ID: z.string().regex(/^\d{5,25}$/, 'the application id is a snowflake (digits)'),
  DISCORD_GUILD_ID: z
    .string()
    .regex(/^\d{5,25}$/, 'the guild id is a snowflake (digits)')
    .optional(),
  /** REST base without the version, e.g. `http://127.0.0.1:4000/api`; default Discord's. */
  DISCORD_API_URL: z.string().url().default('https://discord.com/api'),
  /** Hosts attachments may be downloaded from; everything else is refused. */
  DISCORD_ATTACHMENT_HOSTS: hostList.default(['cdn.discordapp.com', 'media.discordapp.net']),
  DISCORD_DOWNLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  DISCORD_DOWNLOAD_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** The least time between two progress edits of one message. */
  DISCORD_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(100).default(2000),
  /**
   * Users who operate this deployment: `/admin` pauses the queue every server shares and sets quotas and bans that
   * follow a user everywhere, so Manage Server in one guild is not enough ([13] finding 6).
   */
  DISCORD_OPERATOR_IDS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== ''),
    )
    .pipe(z.array(z.string().regex(/^\d{5,25}$/, 'operator ids are user snowflakes (digits)'))),
});
export type DiscordConfig = z.infer<typeof DiscordConfig>;

/** Parses the Discord settings; a failure lists every missing or invalid variable in one message. */
export function parseDiscordConfig(env: Record<string, string | undefined>): DiscordConfig {
  const parsed = DiscordConfig.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid Discord configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  return Object.freeze(parsed.data);
}

/** True when the environment asks for Discord at all (a token is set). */
export const wantsDiscord = (env: Record<string, string | undefined>) => (env['DISCORD_TOKEN'] ?? '') !== '';
