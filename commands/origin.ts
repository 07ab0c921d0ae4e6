import { z } from 'zod';

/** Who owns a job, in the core's ids, and whether its result is its owner's alone. */
const Owner = {
  /** The core's workspace id (a Discord guild, a Slack team, the playground). */
  workspaceId: z.string().min(1),
  /** The core's user id. */
  userId: z.string().min(1),
  /** A private (ephemeral) result: only its owner sees it or makes clips from it. */
  ephemeral: z.boolean().default(false),
};

/** A Discord request: the channel and the bot's reply message the job's progress and result edit. */
export const DiscordOrigin = z.object({
  platform: z.literal('discord'),
  ...Owner,
  /** Absent in the rare interaction Discord sends without a channel. */
  channelId: z.string().optional(),
  /** The deferred reply's message id. */
  messageId: z.string().optional(),
});
export type DiscordOrigin = z.infer<typeof DiscordOrigin>;

/** A Slack request: the channel, the placeholder message (its `ts`) and the thread it sits in. */
export const SlackOrigin = z.object({
  platform: z.literal('slack'),
  ...Owner,
  channelId: z.string().optional(),
  /** The placeholder message's `ts`. */
  messageId: z.string().optional(),
  /** The thread's root `ts`; the placeholder's own `ts` when it started the thread. */
  threadId: z.string().optional(),
});
export type SlackOrigin = z.infer<typeof SlackOrigin>;

/**
 * A request from the web playground. Its platform is stored as `local` (the store's `Platform`, the playground's
 * workspace and user rows, jobs already in Redis), so the name stays.
 */
export const WebOrigin = z.object({
  platform: z.literal('local'),
  ...Owner,
  /** `playground:<session>`: whose page shows the job. */
  channelId: z.string().optional(),
});
export type WebOrigin = z.infer<typeof WebOrigin>;

/**
 * Where a request came from and where its result goes: enough to post without the (short-lived) interaction. One
 * variant per front end, told apart by `platform`; unknown keys are dropped when parsed.
 */
export const Origin = z.discriminatedUnion('platform', [DiscordOrigin, SlackOrigin, WebOrigin]);
export type Origin = z.infer<typeof Origin>;
export type OriginPlatform = Origin['platform'];

/**
 * What a front end says about where a request came from: an `Origin` without the owner, which the core fills in
 * (`ephemeral` defaults to false). Distributes over the variants, so each platform's own fields stay typed.
 */
export type OriginAddress = {
  [TPlatform in OriginPlatform]: Omit<Extract<Origin, { platform: TPlatform }>, keyof typeof Owner> & {
    ephemeral?: boolean;
  };
}[OriginPlatform];

/**
 * An origin read back from Redis or the database (`JobRecord.origin`): the typed origin, or `undefined` when it is not
 * one (written by another version, or hand-edited), so the caller decides what an unknown origin means.
 */
export function parseOrigin(value: unknown): Origin | undefined {
  const parsed = Origin.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
