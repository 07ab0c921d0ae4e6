import { randomUUID } from 'node:crypto';
import {
  type Attachment,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  MessageFlags,
  type ModalSubmitInteraction,
  PermissionFlagsBits,
  type RepliableInteraction,
} from 'discord.js';
import type { Actor, JobAction } from '../core/access.ts';
import type { SubmitInput } from '../core/front-end.ts';
import type { LongRequest } from '../core/long.ts';
import type { Remade } from '../core/lookup.ts';
import type { FrontDoor } from '../front-door.ts';
import type { DiscordConfig } from './config.ts';
import type { AttachmentLike, DownloadLimits } from './download.ts';
import { type JobMessages, replyError } from './jobs.ts';
import type { DiscordLog } from './log.ts';
import { longLabel, longQueuedText, queuedText } from './render.ts';

export type Request = SubmitInput['request'];
/** The interactions that can start a job. */
export type Interactive =
  | ChatInputCommandInteraction
  | ButtonInteraction
  | MessageContextMenuCommandInteraction
  | ModalSubmitInteraction;

/** What the Discord adapter is built from: the client, the service's front door, the settings and the job messages. */
export interface DiscordDeps {
  client: Client;
  service: FrontDoor;
  config: DiscordConfig;
  jobs: JobMessages;
  log: DiscordLog;
}

/**
 * The translation every command, button and modal shares: who is asking (as the core's requester), the core's
 * verdict on a job or clip, and the one generation flow. Built once per client; commands receive it with each
 * interaction.
 */
export function createCommandContext(deps: DiscordDeps) {
  const { service, config, jobs } = deps;
  const limits: DownloadLimits = {
    hosts: config.DISCORD_ATTACHMENT_HOSTS,
    maxBytes: config.DISCORD_DOWNLOAD_MAX_BYTES,
    timeoutMs: config.DISCORD_DOWNLOAD_TIMEOUT_MS,
  };

  const who = (i: Interaction) => ({
    user: { platform: 'discord' as const, externalId: i.user.id, displayName: i.user.globalName ?? i.user.username },
    workspace: {
      platform: 'discord' as const,
      externalId: i.guildId ?? `dm-${i.user.id}`,
      name: i.guild?.name ?? i.guildId ?? 'direct messages',
    },
  });
  const ids = (i: Interaction) => service.frontEnd.identify(who(i));
  const isAdmin = (i: Interaction) => i.memberPermissions?.has(PermissionFlagsBits.ManageGuild) === true;
  /** The asker as the core's access rule sees them: Manage Server counts in this guild only (the core checks). */
  const actor = async (i: Interaction, seenIn?: readonly string[]): Promise<Actor> => ({
    ...(await ids(i)),
    ...(i.channelId === null ? {} : { channelId: i.channelId }),
    admin: isAdmin(i),
    ...(seenIn === undefined ? {} : { seenIn }),
  });

  /**
   * Asks the core whether this member may `action` the job (or clip) a button, link or id names; refuses ephemerally
   * when not. Before any deferral, so a derived clip of a private one is deferred privately from the start.
   */
  async function allowed(
    i: RepliableInteraction,
    target: { jobId: string } | { clipId: string },
    action: JobAction,
    seenIn?: readonly string[],
  ) {
    const verdict = await service.frontEnd.authorize(target, await actor(i, seenIn), action);
    if (!verdict.ok) {
      await replyError(i, verdict.error.message, randomUUID());
      return undefined;
    }
    return verdict;
  }

  /**
   * The generation flow shared by every command, menu, button and modal that makes a clip: defer (privately when
   * asked), build the request (downloads happen here), submit, and turn the reply into the job's queued message.
   */
  async function generate(
    i: Interactive,
    o: { ephemeral: boolean; build: () => Promise<Request>; derivedFrom?: string; seenIn?: readonly string[] },
  ): Promise<void> {
    await i.deferReply(o.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    const request = await o.build();
    const reply = await i.fetchReply();
    const release = jobs.expect(reply.id);
    try {
      const answer = await service.frontEnd.submit({
        requestKey: i.id,
        ...who(i),
        origin: {
          platform: 'discord',
          ...(i.channelId === null ? {} : { channelId: i.channelId }),
          messageId: reply.id,
          ephemeral: o.ephemeral,
        },
        request,
        maxBytes: i.attachmentSizeLimit,
        ...(o.derivedFrom === undefined ? {} : { derivedFrom: o.derivedFrom }),
        ...(o.seenIn === undefined ? {} : { seenIn: o.seenIn }),
      });
      if (!answer.ok) {
        await replyError(i, answer.error.message, answer.requestId);
        return;
      }
      const queued = jobs.track(answer.jobId, {
        prompt: request.prompt,
        interaction: i,
        messageId: reply.id,
        ephemeral: o.ephemeral,
        queued: queuedText({
          prompt: request.prompt,
          position: answer.position,
          etaSeconds: answer.etaSeconds,
          requestId: answer.requestId,
        }),
      });
      release();
      await queued;
    } finally {
      release();
    }
  }

  /**
   * `/long`'s flow, as `generate`'s: defer, build the request (the start image is downloaded here), ask the core for
   * the chain, and turn its answer into the job's queued message; progress, segments and the clip follow on it.
   */
  async function long(i: Interactive, o: { ephemeral: boolean; build: () => Promise<LongRequest> }): Promise<void> {
    await i.deferReply(o.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    const request = await o.build();
    const reply = await i.fetchReply();
    const release = jobs.expect(reply.id);
    try {
      const answer = await service.frontEnd.long({
        requestKey: i.id,
        ...who(i),
        origin: {
          platform: 'discord',
          ...(i.channelId === null ? {} : { channelId: i.channelId }),
          messageId: reply.id,
          ephemeral: o.ephemeral,
        },
        request,
        maxBytes: i.attachmentSizeLimit,
      });
      if (!answer.ok) return await replyError(i, answer.error.message, answer.requestId);
      const prompt = longLabel(request);
      const queued = jobs.track(answer.jobId, {
        prompt,
        interaction: i,
        messageId: reply.id,
        ephemeral: o.ephemeral,
        queued: longQueuedText({ prompt, ...answer }),
      });
      release();
      await queued;
    } finally {
      release();
    }
  }

  /** Cancels a job through the core (which decides who may), and says how it went. */
  async function cancelJob(i: RepliableInteraction, jobId: string) {
    const result = await service.frontEnd.cancel(jobId, await actor(i));
    if (!result.ok) return await replyError(i, result.error.message, randomUUID());
    if (result.state === 'cancelled') await jobs.cancelled(jobId);
    await i.editReply(result.state === 'cancelled' ? `Cancelled \`${jobId}\`.` : `Cancelling \`${jobId}\`…`);
  }

  return {
    ...deps,
    limits,
    who,
    ids,
    isAdmin,
    actor,
    allowed,
    generate,
    long,
    cancelJob,
    /** Latent frames of a clip of `frames` video frames, by the pack's VAE. */
    latentFrames: (frames: number) => (frames - 1) / service.pack.manifest.latent.temporalFactor + 1,
  };
}
export type CommandContext = ReturnType<typeof createCommandContext>;

/** The core's request for Extend, Re-roll or Remix; its refusal reaches the member as any other. */
export async function remadeRequest(made: Promise<Remade>): Promise<Request> {
  const answer = await made;
  if (!answer.ok) throw answer.error;
  return answer.request;
}

export const asAttachment = (a: Attachment): AttachmentLike => ({
  url: a.url,
  name: a.name,
  size: a.size,
  contentType: a.contentType,
});
