import { z } from 'zod';

const list = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  );

/**
 * Slack settings from the environment. The Slack front end starts when `SLACK_BOT_TOKEN` is set; it serves HTTP
 * (needs `SLACK_SIGNING_SECRET`) or, with `SLACK_APP_TOKEN`, Socket Mode.
 */
export const SlackConfig = z
  .object({
    SLACK_BOT_TOKEN: z.string().startsWith('xoxb-', 'a bot token starts with xoxb-'),
    SLACK_SIGNING_SECRET: z.string().min(1).optional(),
    /** App-level token (`connections:write`): Socket Mode instead of HTTP. */
    SLACK_APP_TOKEN: z.string().startsWith('xapp-', 'an app-level token starts with xapp-').optional(),
    /** The Web API base; a local stand-in in tests and demos. */
    SLACK_API_URL: z.string().url().default('https://slack.com/api/'),
    SLACK_PORT: z.coerce.number().int().nonnegative().default(3000),
    SLACK_HOST: z.string().min(1).default('0.0.0.0'),
    /** Origins input files may be downloaded from (`url_private_download` as `files.info` reports it). */
    SLACK_FILE_ORIGINS: list.default(['https://files.slack.com']),
    SLACK_DOWNLOAD_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(10 * 1024 * 1024),
    SLACK_DOWNLOAD_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
    /** Largest result the bot uploads, bytes (Slack allows 1 GB; keep channels light). */
    SLACK_UPLOAD_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(50 * 1024 * 1024),
    /** Least time between two progress edits of one job's message. */
    SLACK_PROGRESS_INTERVAL_MS: z.coerce.number().int().nonnegative().default(2_000),
    /** Slack user ids allowed the admin actions (cancel or delete anyone's job), comma-separated. */
    SLACK_ADMIN_USER_IDS: list,
    /** Web API retries (429s wait their Retry-After first). */
    SLACK_API_RETRIES: z.coerce.number().int().nonnegative().default(10),
  })
  .refine((c) => c.SLACK_APP_TOKEN !== undefined || c.SLACK_SIGNING_SECRET !== undefined, {
    message: 'set SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)',
    path: ['SLACK_SIGNING_SECRET'],
  });
export type SlackConfig = z.infer<typeof SlackConfig>;

/** The Slack settings, or null when no bot token is configured (Slack off); lists every invalid variable. */
export function loadSlackConfig(env: Record<string, string | undefined>): SlackConfig | null {
  if (env['SLACK_BOT_TOKEN'] === undefined || env['SLACK_BOT_TOKEN'] === '') return null;
  const parsed = SlackConfig.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid Slack configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  return Object.freeze(parsed.data);
}
