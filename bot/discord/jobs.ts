import { readFile } from 'node:fs/promises';
import {
  type Client,
  DiscordAPIError,
  type Interaction,
  MessageFlags,
  type RepliableInteraction,
  Routes,
} from 'discord.js';
import type { Origin } from '../../commands/index.ts';
import { encodePng } from '../../media/image.ts';
import { type Delivery, type JobUpdate, UndeliverableError } from '../core/events.ts';
import type { FrontDoor } from '../front-door.ts';
import type { DiscordLog } from './log.ts';
import {
  cancelRow,
  errorText,
  longNote,
  NO_MENTIONS,
  overLimitText,
  progressText,
  resultRow,
  resultText,
  segmentText,
} from './render.ts';

/** A token older than this is not used any more: Discord's limit is 15 minutes, leave room for the upload. */
const TOKEN_TTL_MS = 14 * 60_000;
/** Discord codes meaning "this interaction token cannot be used"; the bot's own channel message is used instead. */
const TOKEN_GONE = new Set([50027, 10015, 10062]);
/** How long a job's posted result is remembered: as long as its delivery can still be retried. */
const NOTE_TTL_SECONDS = 7 * 86_400;

interface Tracked {
  prompt: string;
  channelId: string | undefined;
  messageId: string | undefined;
  ephemeral: boolean;
  discordUserId: string | undefined;
  interaction: RepliableInteraction | undefined;
  tokenAt: number;
  lastEditAt: number;
  chain: Promise<void>;
  done: boolean;
  /** The newest preview seen, shown with the next progress edit (the throttle may skip the update that had it). */
  preview: { width: number; height: number; rgbBase64: string } | undefined;
  /** A /long chain: the last segment attached to the message, which progress edits keep. */
  landed: number | undefined;
}

/**
 * Job messages on Discord: remembers which message each job owns, edits it as the job moves (at most once per
 * `intervalMs`), and posts the result. The interaction token is a shortcut while it lasts; after 14 minutes, after a
 * restart, or when Discord says the token is gone, the bot's own channel message is used. Edits of one job are
 * serialised, so a late progress edit never overwrites the result.
 */
export function createJobMessages(deps: { client: Client; service: FrontDoor; log: DiscordLog; intervalMs: number }) {
  const { client, service, log } = deps;
  const jobs = new Map<string, Tracked>();

  /** Messages whose job is being submitted: updates for them wait until the job is tracked. */
  const pending = new Map<string, Promise<void>>();

  /** Marks a message as about to own a job; call the returned function once `track` ran (or the submit failed). */
  function expect(messageId: string): () => void {
    let done: () => void = () => undefined;
    pending.set(messageId, new Promise<void>((resolve) => (done = resolve)));
    const timer = setTimeout(() => release(), 30_000);
    const release = () => {
      clearTimeout(timer);
      pending.delete(messageId);
      done();
    };
    return release;
  }

  /** Remembers the job's message and shows it as queued; later edits are chained after this one. */
  function track(
    jobId: string,
    o: {
      prompt: string;
      interaction: RepliableInteraction;
      messageId: string | undefined;
      ephemeral: boolean;
      queued: string;
    },
  ): Promise<void> {
    const t: Tracked = jobs.get(jobId) ?? {
      prompt: o.prompt,
      channelId: o.interaction.channelId ?? undefined,
      messageId: o.messageId,
      ephemeral: o.ephemeral,
      discordUserId: o.interaction.user.id,
      interaction: o.interaction,
      tokenAt: o.interaction.createdTimestamp,
      lastEditAt: Date.now(),
      chain: Promise.resolve(),
      done: false,
      preview: undefined,
      landed: undefined,
    };
    jobs.set(jobId, t);
    return enqueue(t, async () => {
      if (t.done) return;
      await edit(t, { content: o.queued, components: [cancelRow(jobId)] });
    });
  }

  /** The job's entry: in memory, or rebuilt from the database's origin after a restart. */
  async function entry(jobId: string, origin?: Origin): Promise<Tracked | undefined> {
    const known = jobs.get(jobId);
    if (known !== undefined) return known;
    let o = origin;
    let prompt = '';
    const record = await service.frontEnd.postedAt(jobId).catch(() => null);
    if (record !== null) {
      o ??= record.origin;
      prompt = record.prompt;
    }
    if (o === undefined || o.platform !== 'discord') return undefined;
    const waiting = o.messageId === undefined ? undefined : pending.get(o.messageId);
    if (waiting !== undefined) {
      await waiting;
      const tracked = jobs.get(jobId);
      if (tracked !== undefined) return tracked;
    }
    const rebuilt: Tracked = {
      prompt,
      channelId: o.channelId,
      messageId: o.messageId,
      ephemeral: o.ephemeral === true,
      discordUserId: undefined,
      interaction: undefined,
      tokenAt: 0,
      lastEditAt: 0,
      chain: Promise.resolve(),
      done: false,
      preview: undefined,
      landed: undefined,
    };
    jobs.set(jobId, jobs.get(jobId) ?? rebuilt);
    return jobs.get(jobId);
  }

  const tokenUsable = (t: Tracked) => t.interaction !== undefined && Date.now() - t.tokenAt < TOKEN_TTL_MS;
  const tokenGone = (error: unknown) => error instanceof DiscordAPIError && TOKEN_GONE.has(Number(error.code));

  /**
   * Edits the job's message: through the token while it lasts, else through the channel (not for private jobs).
   * `files` replace the message's attachments (none: they are removed); `'keep'` leaves them as they are (a /long
   * message keeps its last segment's MP4 while later segments run).
   */
  async function edit(
    t: Tracked,
    body: { content: string; components: unknown[] },
    attach: { name: string; data: Buffer }[] | 'keep' = [],
  ): Promise<void> {
    const files = attach === 'keep' ? [] : attach;
    // API v10: an edit that lists no `attachments` keeps them; one that lists them keeps only those.
    const listed = attach === 'keep' ? {} : { attachments: [] };
    if (tokenUsable(t)) {
      try {
        await t.interaction?.editReply({
          ...body,
          ...listed,
          files: files.map((f) => ({ attachment: f.data, name: f.name })),
        } as Parameters<RepliableInteraction['editReply']>[0]);
        return;
      } catch (error) {
        if (!tokenGone(error)) throw error;
        t.interaction = undefined;
      }
    }
    if (t.ephemeral || t.channelId === undefined || t.messageId === undefined) return;
    // API v10 keeps only the attachments listed here: the new preview is `files[0]`, so it is listed as id 0.
    await client.rest.patch(Routes.channelMessage(t.channelId, t.messageId), {
      body: {
        ...body,
        ...(attach === 'keep'
          ? {}
          : { attachments: files.map((f, index) => ({ id: String(index), filename: f.name })) }),
        allowed_mentions: NO_MENTIONS,
      },
      ...(files.length === 0 ? {} : { files }),
    });
  }

  const enqueue = (t: Tracked, work: () => Promise<void>) => {
    const next = t.chain.then(work, work);
    t.chain = next.catch(() => undefined);
    return next;
  };

  /**
   * A /long segment landed: the job's message shows it (its MP4 attached in place of the one before). Not throttled
   * like progress: a chain has few segments, each seconds of work, and edits of one job run one at a time.
   */
  function onSegment(update: Extract<JobUpdate, { kind: 'segment' }>): void {
    void (async () => {
      const t = await entry(update.jobId);
      if (t === undefined || t.done) return;
      const data = await readFile(update.mp4Absolute);
      await enqueue(t, async () => {
        if (t.done) return;
        t.landed = update.index;
        t.lastEditAt = Date.now();
        await edit(
          t,
          {
            content: segmentText({
              prompt: t.prompt,
              index: update.index,
              count: update.count,
              segmentPrompt: update.prompt,
            }),
            components: [cancelRow(update.jobId)],
          },
          [{ name: `segment-${update.index}.mp4`, data }],
        );
      });
    })().catch((error: unknown) =>
      log.warn({ jobId: update.jobId, err: (error as Error).message }, 'segment edit failed'),
    );
  }

  function onUpdate(update: JobUpdate): void {
    if (update.kind === 'segment') {
      onSegment(update);
      return;
    }
    void (async () => {
      const t = await entry(update.jobId);
      if (t === undefined || t.done) return;
      if (update.kind === 'progress' && update.preview !== undefined) t.preview = update.preview;
      const at = Date.now();
      // Leading-edge throttle: one edit per interval at most; the result replaces whatever was skipped.
      if (at - t.lastEditAt < deps.intervalMs) return;
      t.lastEditAt = at;
      const chain = update.kind === 'progress' ? update.segment : undefined;
      const content =
        update.kind === 'progress'
          ? progressText({
              prompt: t.prompt,
              step: update.step,
              total: update.total,
              etaMs: update.etaMs,
              segment: chain,
              landed: t.landed,
            })
          : update.kind === 'started'
            ? `🎬 Started “${t.prompt}”`
            : `⏳ Requeued: ${update.reason}`;
      // A /long message shows its last finished segment rather than a preview, and keeps it between edits.
      const shown = update.kind === 'progress' && chain === undefined ? t.preview : undefined;
      const attach =
        t.landed !== undefined || chain !== undefined
          ? ('keep' as const)
          : shown === undefined
            ? []
            : [
                {
                  name: 'preview.png',
                  data: await encodePng(shown.width, shown.height, Buffer.from(shown.rgbBase64, 'base64')),
                },
              ];
      await enqueue(t, async () => {
        if (t.done) return;
        await edit(t, { content, components: [cancelRow(update.jobId)] }, attach);
      });
    })().catch((error: unknown) =>
      log.warn({ jobId: update.jobId, err: (error as Error).message }, 'progress edit failed'),
    );
  }

  async function deliver(delivery: Delivery): Promise<void> {
    const { origin } = delivery;
    if (origin.platform !== 'discord') return;
    const t = await entry(delivery.jobId, origin);
    if (t === undefined) return;
    await enqueue(t, async () => {
      t.done = true;
      if (delivery.kind === 'succeeded') await postResult(t, delivery);
      else if (delivery.kind === 'failed')
        await edit(t, {
          content: errorText(`The clip failed: ${delivery.message}`, delivery.requestId),
          components: [],
        });
      else await edit(t, { content: `🚫 Cancelled “${t.prompt}”; nothing was charged.`, components: [] });
    });
    log.info({ jobId: delivery.jobId, requestId: delivery.requestId, kind: delivery.kind }, 'delivered to discord');
  }

  /** A queued job removed by Cancel: no delivery follows, so its message is settled here. */
  async function cancelled(jobId: string): Promise<void> {
    const t = await entry(jobId);
    if (t === undefined) return;
    await enqueue(t, async () => {
      if (t.done) return;
      t.done = true;
      await edit(t, { content: `🚫 Cancelled “${t.prompt}”; nothing was charged.`, components: [] });
    });
  }

  async function postResult(t: Tracked, d: Extract<Delivery, { kind: 'succeeded' }>): Promise<void> {
    const seed = Number(d.parameters['seed'] ?? 0);
    if (d.long?.overLimit === true) return await postOverLimit(t, d, seed);
    const data = await readFile(d.mp4Absolute);
    const name = `pusa-${seed}.mp4`;
    const content = resultText({
      prompt: t.prompt,
      seed,
      frames: d.frames,
      gpuSeconds: d.gpuSeconds,
      ...(t.discordUserId === undefined || t.ephemeral ? {} : { userId: t.discordUserId }),
    }).concat(d.long === undefined ? '' : longNote(d.long));
    const components = [resultRow(d.jobId, d.clipId)];
    // The requester is named on purpose and may be notified; nobody else the prompt names is.
    const allowedMentions = {
      parse: [],
      users: t.discordUserId === undefined || t.ephemeral ? [] : [t.discordUserId],
    };
    // One upload per job, as on Slack ([13] finding 13): once the clip is posted, a retried delivery (the placeholder's
    // edit below failed, or the bot restarted before the delivery was recorded) only finishes what is left.
    const postedKey = `discord:result:${d.jobId}`;
    const posted = await service.recall(postedKey);
    if (posted === 'original') return;
    try {
      if (posted === undefined && tokenUsable(t)) {
        try {
          await t.interaction?.editReply({
            content,
            components,
            files: [{ attachment: data, name }],
            allowedMentions,
          });
          await service.remember(postedKey, 'original', NOTE_TTL_SECONDS);
          return;
        } catch (error) {
          // The placeholder deleted (10008): the result goes to the channel instead of failing every retry.
          if (!tokenGone(error) && !(error instanceof DiscordAPIError && error.code === 10008)) throw error;
          t.interaction = undefined;
        }
      }
      // Posting it in the channel would show it to everyone: the job is ended and refunded instead of charged.
      if (t.ephemeral || t.channelId === undefined)
        throw new UndeliverableError('a private result outlived its interaction token; it cannot be posted privately');
      if (posted === undefined) {
        const reply = (await client.rest.post(Routes.channelMessages(t.channelId), {
          body: {
            content,
            components,
            allowed_mentions: { ...allowedMentions, replied_user: false },
            ...(t.messageId === undefined
              ? {}
              : { message_reference: { message_id: t.messageId, fail_if_not_exists: false } }),
          },
          files: [{ name, data, contentType: 'video/mp4' }],
        })) as { id?: string };
        await service.remember(postedKey, `reply:${reply.id ?? ''}`, NOTE_TTL_SECONDS);
      }
      // The placeholder still shows progress and a Cancel button until this edit lands: a failure retries the
      // delivery (which skips the upload above); a placeholder deleted meanwhile needs nothing more.
      if (t.messageId !== undefined)
        await client.rest
          .patch(Routes.channelMessage(t.channelId, t.messageId), {
            body: {
              content: `✅ Finished “${t.prompt}”: the clip is in the reply below.`,
              components: [],
              attachments: [],
              allowed_mentions: NO_MENTIONS,
            },
          })
          .catch((error: unknown) => {
            if (!(error instanceof DiscordAPIError && error.code === 10008)) throw error;
          });
    } catch (error) {
      // Over the upload limit: say so once instead of retrying the same upload (no 40005 loop).
      if (error instanceof DiscordAPIError && (error.code === 40005 || error.status === 413)) {
        await edit(t, {
          content: errorText(
            `The clip is ${(d.bytes / 1024 / 1024).toFixed(1)} MiB, over this channel's upload limit; ask for fewer frames.`,
            d.requestId,
          ),
          components: [],
        });
        return;
      }
      throw error;
    }
  }

  /**
   * A /long clip over this channel's upload limit even at the lowest quality: no upload (it would be refused); the
   * message says so, names the clip, and keeps its buttons (Extend, Info, Delete work on it as on any clip).
   */
  async function postOverLimit(t: Tracked, d: Extract<Delivery, { kind: 'succeeded' }>, seed: number) {
    const long = d.long ?? { segments: 0, of: 0 };
    await edit(t, {
      content: `${resultText({ prompt: t.prompt, seed, frames: d.frames, gpuSeconds: d.gpuSeconds })}${longNote(long)}\n${overLimitText(d.bytes, d.clipId)}`,
      components: [resultRow(d.jobId, d.clipId)],
    });
  }

  return { expect, track, onUpdate, deliver, cancelled, forget: (jobId: string) => jobs.delete(jobId) };
}
export type JobMessages = ReturnType<typeof createJobMessages>;

/** Ephemeral error for an interaction in whatever state it is (answered or not, deferred publicly or privately). */
export async function replyError(interaction: Interaction, message: string, requestId: string): Promise<void> {
  if (!interaction.isRepliable()) return;
  const content = errorText(message, requestId);
  if (!interaction.deferred && !interaction.replied) {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral });
    return;
  }
  if (interaction.ephemeral === true) {
    await interaction.editReply({ content, components: [] });
    return;
  }
  // The deferred reply is public and cannot become ephemeral: remove it and answer privately.
  await interaction.deleteReply().catch(() => undefined);
  await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
}
