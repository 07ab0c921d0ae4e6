import { randomUUID } from 'node:crypto';
import {
  ActionRowBuilder,
  type Attachment,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  MessageFlags,
  ModalBuilder,
  type ModalSubmitInteraction,
  PermissionFlagsBits,
  type RepliableInteraction,
  Routes,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { parseOrigin, UserError } from '../../commands/index.ts';
import type { Actor, JobAction } from '../core/access.ts';
import { classify } from '../core/errors.ts';
import type { SubmitInput } from '../core/front-end.ts';
import type { Remade } from '../core/lookup.ts';
import type { OperatorActor } from '../core/operator.ts';
import type { FrontDoor } from '../front-door.ts';
import { MenuName, MOTION, type Motion } from './commands.ts';
import type { DiscordConfig } from './config.ts';
import { Action, customId, parseCustomId } from './custom-id.ts';
import { type AttachmentLike, checkAttachment, type DownloadLimits, downloadAttachment } from './download.ts';
import { type JobMessages, replyError } from './jobs.ts';
import type { DiscordLog } from './log.ts';
import { fitLines, queuedText } from './render.ts';

type Request = SubmitInput['request'];
type Interactive =
  | ChatInputCommandInteraction
  | ButtonInteraction
  | MessageContextMenuCommandInteraction
  | ModalSubmitInteraction;

/** A second press of the same button by the same member within this window is answered, not queued again. */
const DOUBLE_CLICK_MS = 10_000;

/**
 * Routes every interaction: defers before anything slow (downloads, database, queue), then hands the work to the
 * front-end core. Refusals are ephemeral, specific and carry the request id.
 */
export function createInteractionHandler(deps: {
  client: Client;
  service: FrontDoor;
  config: DiscordConfig;
  jobs: JobMessages;
  log: DiscordLog;
}) {
  const { service, config, jobs, log, client } = deps;
  const limits: DownloadLimits = {
    hosts: config.DISCORD_ATTACHMENT_HOSTS,
    maxBytes: config.DISCORD_DOWNLOAD_MAX_BYTES,
    timeoutMs: config.DISCORD_DOWNLOAD_TIMEOUT_MS,
  };
  const latentFrames = (frames: number) => (frames - 1) / service.pack.manifest.latent.temporalFactor + 1;
  const recentPresses = new Map<string, number>();

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
  const asAttachment = (a: Attachment): AttachmentLike => ({
    url: a.url,
    name: a.name,
    size: a.size,
    contentType: a.contentType,
  });

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

  const common = (i: ChatInputCommandInteraction) => {
    const steps = i.options.getInteger('steps');
    const seed = i.options.getInteger('seed');
    const frames = i.options.getInteger('frames');
    // Only /t2v offers a size; its choices come from the pack, and the core checks them again.
    const size = i.commandName === 't2v' ? /^(\d+)x(\d+)$/.exec(i.options.getString('size') ?? '') : null;
    return {
      ...(steps === null ? {} : { steps }),
      ...(seed === null ? {} : { seed }),
      ...(frames === null ? {} : { frames }),
      ...(size === null ? {} : { size: [Number(size[1]), Number(size[2])] as [number, number] }),
    };
  };

  /**
   * A clip id from an id, an autocomplete value, or a link to one of our result messages; for a link, the channel
   * it is in (checked readable by this member), which the core then counts as a conversation they see.
   */
  async function resolveClip(i: Interaction, value: string): Promise<{ clipId: string; seenIn?: string }> {
    const link = /channels\/(\d+|@me)\/(\d+)\/(\d+)/.exec(value);
    if (link === null) return { clipId: value.trim() };
    const [, guildId = '', channelId = '', messageId = ''] = link;
    // The bot reads the link with its own access: first make sure the member could read it themselves ([13] #5).
    if (!(await canRead(i, guildId, channelId)))
      throw new UserError(
        'NotAllowed',
        'you cannot read the channel that link points to, so I will not open it for you; link a clip from a channel you can see',
      );
    const message = (await client.rest.get(Routes.channelMessage(channelId, messageId)).catch(() => null)) as {
      components?: { components?: { custom_id?: string }[] }[];
    } | null;
    const found = clipIdIn(message?.components ?? []);
    if (found === undefined)
      throw new UserError('NotFound', 'that link is not to one of my results with an Extend button');
    return { clipId: found, seenIn: channelId };
  }

  /** Whether this member may view the channel and read its history, from the guild's roles and the overwrites. */
  async function canRead(i: Interaction, guildId: string, channelId: string): Promise<boolean> {
    if (i.guildId === null || guildId !== i.guildId) return false;
    try {
      const guild = await client.guilds.fetch(guildId);
      const [member, channel] = await Promise.all([guild.members.fetch(i.user.id), guild.channels.fetch(channelId)]);
      if (channel === null) return false;
      return (
        channel
          .permissionsFor(member)
          .has([PermissionFlagsBits.ViewChannel, PermissionFlagsBits.ReadMessageHistory]) === true
      );
    } catch {
      // Unknown channel, not a member, no access for the bot: all mean "not readable by them".
      return false;
    }
  }

  async function commandT2v(i: ChatInputCommandInteraction) {
    const negative = i.options.getString('negative');
    await generate(i, {
      ephemeral: i.options.getBoolean('private') === true,
      build: async () => ({
        task: 't2v',
        prompt: i.options.getString('prompt', true),
        ...(negative === null ? {} : { negativePrompt: negative }),
        ...common(i),
      }),
    });
  }

  async function commandAnimate(i: ChatInputCommandInteraction) {
    const image = asAttachment(i.options.getAttachment('image', true));
    const refused = checkAttachment(image, limits);
    if (refused !== undefined) return await replyError(i, refused.message, randomUUID());
    const motion = (i.options.getString('motion') ?? undefined) as Motion | undefined;
    await generate(i, {
      ephemeral: i.options.getBoolean('private') === true,
      build: async () => ({
        task: 'i2v',
        prompt: i.options.getString('prompt') ?? 'the scene comes to life',
        ...common(i),
        ...(motion === undefined || !(motion in MOTION) ? {} : { noiseMultipliers: [MOTION[motion]] }),
        images: [{ bytes: await downloadAttachment(image, limits), name: image.name }],
      }),
    });
  }

  async function commandKeyframes(i: ChatInputCommandInteraction) {
    const start = asAttachment(i.options.getAttachment('start', true));
    const end = asAttachment(i.options.getAttachment('end', true));
    const middleOption = i.options.getAttachment('middle');
    const middle = middleOption === null ? undefined : asAttachment(middleOption);
    for (const image of [start, end, ...(middle === undefined ? [] : [middle])]) {
      const refused = checkAttachment(image, limits);
      if (refused !== undefined) return await replyError(i, refused.message, randomUUID());
    }
    const options = common(i);
    const last = latentFrames(options.frames ?? service.pack.manifest.video.defaultFrames) - 1;
    await generate(i, {
      ephemeral: false,
      build: async () => {
        const download = (a: AttachmentLike) => downloadAttachment(a, limits);
        const images = [
          { bytes: await download(start), latentIndex: 0, name: start.name },
          ...(middle === undefined
            ? []
            : [{ bytes: await download(middle), latentIndex: Math.round(last / 2), name: middle.name }]),
          { bytes: await download(end), latentIndex: last, name: end.name },
        ];
        return { task: 'keyframes', prompt: i.options.getString('prompt', true), ...options, images };
      },
    });
  }

  async function commandExtend(i: ChatInputCommandInteraction) {
    const { clipId, seenIn } = await resolveClip(i, i.options.getString('clip', true));
    const seen = seenIn === undefined ? undefined : [seenIn];
    const verdict = await allowed(i, { clipId }, 'derive', seen);
    if (verdict === undefined) return;
    await generate(i, {
      ephemeral: verdict.private,
      ...(seen === undefined ? {} : { seenIn: seen }),
      build: async () =>
        request(
          service.frontEnd.extendOf(clipId, await actor(i, seen), {
            prompt: i.options.getString('prompt') ?? undefined,
          }),
        ),
    });
  }

  async function commandTransition(i: ChatInputCommandInteraction) {
    const from = await resolveClip(i, i.options.getString('from', true));
    const to = await resolveClip(i, i.options.getString('to', true));
    const seen = [from.seenIn, to.seenIn].filter((c) => c !== undefined);
    let ephemeral = false;
    for (const clipId of [from.clipId, to.clipId]) {
      const verdict = await allowed(i, { clipId }, 'derive', seen);
      if (verdict === undefined) return;
      ephemeral ||= verdict.private;
    }
    await generate(i, {
      ephemeral,
      seenIn: seen,
      build: async () => ({
        task: 'transition',
        prompt: i.options.getString('prompt') ?? 'a smooth transition',
        clips: [{ clipId: from.clipId }, { clipId: to.clipId }],
      }),
    });
  }

  async function commandQuota(i: ChatInputCommandInteraction) {
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const { userId, workspaceId } = await ids(i);
    const q = await service.frontEnd.quota(userId, workspaceId);
    const ws = q.workspace;
    await i.editReply(
      [
        `**GPU time today:** ${q.usedSeconds} s used, ${q.reservedSeconds} s reserved, ${q.remainingSeconds} s of ${q.limitSeconds} s left`,
        `**Jobs in flight:** ${q.queued} of ${q.maxQueued}`,
        `**Server budget:** ${ws.budgetSeconds === null ? 'none' : `${ws.remainingSeconds ?? 0} s of ${ws.budgetSeconds} s left`}`,
        `Resets <t:${Math.floor(q.resetsAt.getTime() / 1000)}:R>`,
        `-# ${q.explanation}`,
      ].join('\n'),
    );
  }

  async function commandHistory(i: ChatInputCommandInteraction) {
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const { userId } = await ids(i);
    const list = await service.frontEnd.history(userId, i.options.getInteger('count') ?? 5);
    if (list.length === 0) return void (await i.editReply('You have no requests yet; try `/t2v`.'));
    const lines = list.map((job) => {
      const origin = parseOrigin(job.origin);
      const link =
        origin?.platform === 'discord' && origin.channelId && origin.messageId && i.guildId
          ? ` · https://discord.com/channels/${i.guildId}/${origin.channelId}/${origin.messageId}`
          : '';
      const prompt = String(job.parameters['prompt'] ?? '');
      return `\`${job.id}\` ${job.status} · ${job.task} · “${prompt.slice(0, 60)}”${job.clip ? ` · seed ${job.clip.seed}` : ''}${link}`;
    });
    // Ten lines with links can pass Discord's 2,000 characters: show the newest that fit and say how many did not.
    await i.editReply(fitLines(lines, (left) => `-# ${left} more not shown: a Discord message holds 2,000 characters`));
  }

  async function commandCancel(i: ChatInputCommandInteraction) {
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const { userId } = await ids(i);
    let jobId = i.options.getString('job');
    if (jobId === null) {
      const list = await service.frontEnd.history(userId, 20);
      jobId = list.find((j) => j.status === 'queued' || j.status === 'running')?.id ?? null;
      if (jobId === null) return void (await i.editReply('You have nothing queued or running.'));
    }
    await cancelJob(i, jobId);
  }

  async function cancelJob(i: RepliableInteraction, jobId: string) {
    const result = await service.frontEnd.cancel(jobId, await actor(i));
    if (!result.ok) return await replyError(i, result.error.message, randomUUID());
    if (result.state === 'cancelled') await jobs.cancelled(jobId);
    await i.editReply(result.state === 'cancelled' ? `Cancelled \`${jobId}\`.` : `Cancelling \`${jobId}\`…`);
  }

  /**
   * `/admin`: Discord's words for the core's operator actions. Who operates is Discord's to say: Manage Server makes
   * an operator of this guild, DISCORD_OPERATOR_IDS (with Manage Server) one of the whole deployment; what each may
   * do is the core's rule, and every subcommand here reaches past this guild (the shared queue, a user's quota and
   * ban follow them everywhere).
   */
  async function commandAdmin(i: ChatInputCommandInteraction) {
    if (!isAdmin(i)) return await replyError(i, '`/admin` needs the Manage Server permission', randomUUID());
    const sub = i.options.getSubcommand();
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const by: OperatorActor = config.DISCORD_OPERATOR_IDS.includes(i.user.id)
      ? { admin: true }
      : { admin: true, workspaceId: (await ids(i)).workspaceId };
    const target = i.options.getUser('user');
    const member = () => {
      if (target === null) throw new UserError('InvalidOption', 'pick a member');
      return { platform: 'discord' as const, externalId: target.id, displayName: target.globalName ?? target.username };
    };
    const operator = service.frontEnd.operator;
    const [done, said] =
      sub === 'pause'
        ? [await operator.pause(by), 'The queue is paused.']
        : sub === 'resume'
          ? [await operator.resume(by), 'The queue is running again.']
          : sub === 'quota'
            ? [
                await operator.setUserQuota(by, member(), i.options.getInteger('seconds', true)),
                `<@${target?.id}> now has ${i.options.getInteger('seconds', true)} GPU seconds a day.`,
              ]
            : sub === 'ban'
              ? [
                  await operator.ban(by, member(), i.options.getString('reason') ?? `banned by ${i.user.username}`),
                  `<@${target?.id}> is banned.`,
                ]
              : [await operator.unban(by, member()), `<@${target?.id}> is no longer banned.`];
    if (!done.ok)
      return await replyError(
        i,
        done.error.code === 'NotAllowed' ? `${done.error.message} (DISCORD_OPERATOR_IDS)` : done.error.message,
        randomUUID(),
      );
    if (sub === 'pause' || sub === 'resume') log.info({ by: i.user.id, sub }, 'admin queue change');
    await i.editReply(said);
  }

  async function menuAnimate(i: MessageContextMenuCommandInteraction) {
    const first = i.targetMessage.attachments.first();
    if (first === undefined)
      return await replyError(
        i,
        'that message has no image; use this on a message with an image attached',
        randomUUID(),
      );
    const image = asAttachment(first);
    const refused = checkAttachment(image, limits);
    if (refused !== undefined) return await replyError(i, refused.message, randomUUID());
    await generate(i, {
      ephemeral: false,
      build: async () => ({
        task: 'i2v',
        prompt: i.targetMessage.content.trim() || 'the scene comes to life',
        images: [{ bytes: await downloadAttachment(image, limits), name: image.name }],
      }),
    });
  }

  async function menuExtend(i: MessageContextMenuCommandInteraction) {
    const clipId = clipIdIn(
      i.targetMessage.components.map((row) => row.toJSON()) as { components?: { custom_id?: string }[] }[],
    );
    if (clipId === undefined)
      return await replyError(
        i,
        'that message is not one of my results; use this on a clip with an Extend button',
        randomUUID(),
      );
    const verdict = await allowed(i, { clipId }, 'derive');
    if (verdict === undefined) return;
    await generate(i, {
      ephemeral: verdict.private,
      build: async () => request(service.frontEnd.extendOf(clipId, await actor(i))),
    });
  }

  /** The core's request for Extend, Re-roll or Remix; its refusal reaches the member as any other. */
  const request = async (made: Promise<Remade>): Promise<Request> => {
    const answer = await made;
    if (!answer.ok) throw answer.error;
    return answer.request;
  };

  /** Answers a repeated press at once (the first one is still being handled), so one click makes one job. */
  function doubleClick(key: string): boolean {
    const at = Date.now();
    for (const [k, t] of recentPresses) if (at - t > DOUBLE_CLICK_MS) recentPresses.delete(k);
    if (recentPresses.has(key)) return true;
    recentPresses.set(key, at);
    return false;
  }

  async function onButton(i: ButtonInteraction) {
    const parsed = parseCustomId(i.customId);
    if (parsed === undefined)
      return await replyError(i, 'this button is from an older version; run the command again', randomUUID());
    const { action, id } = parsed;
    if (action === Action.Remix) {
      // The modal must be the first response: ask the core and prefill only if the database answers fast; a slow
      // answer shows an empty form, and the core checks again when it is sent.
      const verdict = await Promise.race([
        actor(i).then((by) => service.frontEnd.authorize({ jobId: id }, by, 'derive')),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1500)),
      ]).catch(() => undefined);
      if (verdict !== undefined && !verdict.ok) return await replyError(i, verdict.error.message, randomUUID());
      const prompt = verdict?.ok === true ? String(verdict.job.parameters['prompt'] ?? '') : '';
      const input = new TextInputBuilder()
        .setCustomId('prompt')
        .setLabel('New prompt')
        .setStyle(TextInputStyle.Paragraph)
        .setMaxLength(500)
        .setRequired(true);
      if (prompt !== '') input.setValue(prompt);
      await i.showModal(
        new ModalBuilder()
          .setCustomId(customId(Action.Remix, id))
          .setTitle('Remix')
          .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input)),
      );
      return;
    }
    if (action === Action.Extend || action === Action.Reroll) {
      if (doubleClick(`${action}:${id}:${i.user.id}`))
        return void (await i.reply({
          content: 'Already on it: that press was counted once.',
          flags: MessageFlags.Ephemeral,
        }));
      // Extend carries a clip id, Re-roll a job id; either way the core decides, and privacy carries over.
      const verdict = await allowed(i, action === Action.Extend ? { clipId: id } : { jobId: id }, 'derive');
      if (verdict === undefined) return;
      await generate(i, {
        ephemeral: verdict.private,
        ...(action === Action.Reroll ? { derivedFrom: id } : {}),
        build: async () =>
          action === Action.Extend
            ? await request(service.frontEnd.extendOf(id, await actor(i)))
            : await request(service.frontEnd.remake({ jobId: id }, await actor(i), { kind: 'reroll' })),
      });
      return;
    }
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    if (action === Action.Cancel) return await cancelJob(i, id);
    if (action === Action.Info) {
      const verdict = await allowed(i, { jobId: id }, 'see');
      if (verdict === undefined) return;
      const { job } = verdict;
      const info = { jobId: job.id, task: job.task, status: job.status, ...job.parameters, clip: job.clip };
      return void (await i.editReply(`\`\`\`json\n${JSON.stringify(info, null, 1).slice(0, 1900)}\n\`\`\``));
    }
    // Delete: the core decides (the owner, or an operator of this guild) and deletes the result (history, files,
    // Extend), as every front end's Delete does; then the message goes.
    const removed = await service.frontEnd.remove(id, await actor(i));
    if (!removed.ok) return await replyError(i, removed.error.message, randomUUID());
    await client.rest.delete(Routes.channelMessage(i.message.channelId, i.message.id));
    await i.editReply('Deleted.');
  }

  async function onModal(i: ModalSubmitInteraction) {
    const parsed = parseCustomId(i.customId);
    if (parsed?.action !== Action.Remix) return await replyError(i, 'unknown form', randomUUID());
    const prompt = i.fields.getTextInputValue('prompt');
    const verdict = await allowed(i, { jobId: parsed.id }, 'derive');
    if (verdict === undefined) return;
    await generate(i, {
      ephemeral: verdict.private,
      derivedFrom: parsed.id,
      build: async () =>
        request(service.frontEnd.remake({ jobId: parsed.id }, await actor(i), { kind: 'remix', prompt })),
    });
  }

  async function onAutocomplete(i: AutocompleteInteraction) {
    const focused = i.options.getFocused(true);
    const { userId } = await ids(i);
    if (i.commandName === 'cancel') {
      const list = await service.frontEnd.history(userId, 25);
      return void (await i.respond(
        list
          .filter((j) => j.status === 'queued' || j.status === 'running')
          .map((j) => ({ name: `${j.status} · ${String(j.parameters['prompt'] ?? '').slice(0, 80)}`, value: j.id })),
      ));
    }
    const clips = await service.frontEnd.recentClips(userId, 25);
    const text = String(focused.value).toLowerCase();
    await i.respond(
      clips
        .filter((c) => c.id.toLowerCase().includes(text) || text === '')
        .map((c) => ({
          name: `${c.createdAt.toISOString().slice(0, 16).replace('T', ' ')} · seed ${c.seed} · ${c.frames} frames`,
          value: c.id,
        })),
    );
  }

  async function route(i: Interaction): Promise<void> {
    if (i.isAutocomplete()) return await onAutocomplete(i);
    if (i.isButton()) return await onButton(i);
    if (i.isModalSubmit()) return await onModal(i);
    if (i.isMessageContextMenuCommand()) {
      if (i.commandName === MenuName.Animate) return await menuAnimate(i);
      if (i.commandName === MenuName.Extend) return await menuExtend(i);
    }
    if (i.isChatInputCommand()) {
      const handlers: Record<string, (x: ChatInputCommandInteraction) => Promise<void>> = {
        t2v: commandT2v,
        animate: commandAnimate,
        keyframes: commandKeyframes,
        extend: commandExtend,
        transition: commandTransition,
        quota: commandQuota,
        history: commandHistory,
        cancel: commandCancel,
        admin: commandAdmin,
      };
      const handler = handlers[i.commandName];
      if (handler !== undefined) return await handler(i);
    }
    if (i.isRepliable())
      await replyError(i, 'I do not know that command; it may be from an older version', randomUUID());
  }

  return async function handleInteraction(i: Interaction): Promise<void> {
    try {
      await route(i);
    } catch (error) {
      // The core decides what the user reads (bot/core/errors.ts); only what is not theirs to fix is logged.
      const verdict = classify(error);
      if (verdict.kind !== 'refused')
        log.error(
          { requestId: verdict.errorId, interactionId: i.id, kind: verdict.kind, err: (error as Error).message },
          'interaction failed',
        );
      await replyError(i, verdict.message, verdict.errorId).catch(() => undefined);
    }
  };
}

/** The clip id in a result message's components (the Extend button's `v1:extend:<clipId>`). */
export function clipIdIn(rows: { components?: { custom_id?: string }[] }[]): string | undefined {
  for (const row of rows)
    for (const component of row.components ?? []) {
      const parsed = parseCustomId(component.custom_id ?? '');
      if (parsed?.action === Action.Extend) return parsed.id;
    }
  return undefined;
}
