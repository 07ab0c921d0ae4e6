import type { App, BlockAction, ButtonAction, types } from '@slack/bolt';
import { type CommandOptions, parseCommandArguments, UserError } from '../../commands/index.ts';
import type { Actor } from '../core/access.ts';
import type { SubmitInput } from '../core/front-end.ts';
import type { Remade } from '../core/lookup.ts';
import { outageOf } from '../core/outage.ts';
import type { FrontDoor } from '../front-door.ts';
import type { SlackConfig } from './config.ts';
import { downloadSlackFile, type SlackFileLike } from './download.ts';
import type { MessageEdits } from './edits.ts';
import { ACTION, type ClipButtonValue, errorText, escapeMrkdwn, parseButtonValue, queuedMessage } from './render.ts';

export interface SlackLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

type Client = App['client'];

/** Who asked, and where the job's message goes. */
interface Requester {
  userId: string;
  userName: string;
  teamId: string;
  channelId: string;
  /** Post in this thread (a shortcut or button on a message); absent: a new message in the channel. */
  threadTs?: string;
  /** The payload's `response_url`: it reaches the user even in a channel the app is not in. */
  responseUrl?: string;
}

/** A job this process posted, so progress edits need no database read. */
export interface PostedJob {
  channelId: string;
  ts: string;
  threadTs: string;
  prompt: string;
}

const IMAGE_MODAL = 'v1:image-modal';
const REMIX_MODAL = 'v1:remix-modal';
const SHORTCUT_ANIMATE = 'v1:animate-image';
const SHORTCUT_EXTEND = 'v1:extend-clip';

interface ImageModalMeta {
  kind: 'animate' | 'keyframes';
  channelId: string;
  threadTs?: string;
  /** Files chosen already (the "Animate this image" shortcut); otherwise the modal's file_input. */
  fileIds?: string[];
  options: CommandOptions;
}

/** Registers every Slack entry point on `app`; the jobs it posts are recorded in `posted`. */
export function registerHandlers(
  app: App,
  deps: {
    service: FrontDoor;
    config: SlackConfig;
    log: SlackLog;
    posted: Map<string, PostedJob>;
    edits: MessageEdits;
    fetch?: typeof fetch;
  },
): void {
  const { service, config, log, posted, edits } = deps;
  const fetchFn = deps.fetch ?? fetch;
  const manifest = service.pack.manifest;
  const isAdmin = (userId: string) => config.SLACK_ADMIN_USER_IDS.includes(userId);

  /**
   * Tells the user privately. An ephemeral message needs the app in the channel; where it is not (`not_in_channel`)
   * the payload's `response_url` still reaches the user, and without one a direct message does.
   */
  const ephemeral = async (
    client: Client,
    who: { channelId: string; userId: string; threadTs?: string; responseUrl?: string },
    text: string,
  ) => {
    try {
      await client.chat.postEphemeral({
        channel: who.channelId,
        user: who.userId,
        text,
        ...(who.threadTs === undefined ? {} : { thread_ts: who.threadTs }),
      });
      return;
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'could not post an ephemeral message; trying the response_url');
    }
    if (who.responseUrl !== undefined) {
      const answered = await fetchFn(who.responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
        signal: AbortSignal.timeout(5_000),
      }).then(
        (res) => res.ok,
        () => false,
      );
      if (answered) return;
    }
    await client.chat
      .postMessage({ channel: who.userId, text })
      .catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not tell the user at all'));
  };

  /** The bot's name as members type it after `/invite @`; asked of Slack once. */
  let botName: Promise<string> | undefined;
  const nameOf = (client: Client) => {
    botName ??= client.auth.test().then(
      (me) => String(me.user ?? 'pusa'),
      () => 'pusa',
    );
    return botName;
  };

  /** Catches everything past `ack()`: the user hears about it, ephemerally, with an id to quote. */
  const guard = async (client: Client, who: { channelId: string; userId: string }, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      const requestId = crypto.randomUUID();
      // The database or the queue away: say which, in words safe to show; the cause stays in the log.
      const shown = outageOf(error) ?? (error instanceof UserError ? error : undefined);
      if (shown !== undefined && !(error instanceof UserError))
        log.warn({ requestId, err: (error as Error).message }, 'slack handler failed: outage');
      if (shown !== undefined) {
        await ephemeral(client, who, errorText(shown.message, requestId));
        return;
      }
      log.warn({ requestId, err: (error as Error).message }, 'slack handler failed');
      await ephemeral(client, who, errorText('something went wrong on our side; nothing was charged', requestId));
    }
  };

  /** Placeholder message → submit → "queued" (or the placeholder removed and an ephemeral refusal). */
  async function startJob(
    client: Client,
    who: Requester,
    requestKey: string,
    request: SubmitInput['request'],
    derivedFrom?: string,
  ) {
    const placeholder = await client.chat
      .postMessage({
        channel: who.channelId,
        // The prompt is the user's text: escaped, so `<!channel>` or a disguised link shows as typed.
        text: `⏳ Queuing: ${escapeMrkdwn(request.prompt)}`,
        ...(who.threadTs === undefined ? {} : { thread_ts: who.threadTs }),
      })
      .catch(async (error: unknown) => {
        const code = (error as { data?: { error?: string } }).data?.error ?? 'unknown error';
        throw new UserError(
          'NotAllowed',
          code === 'not_in_channel'
            ? `I am not in this channel, so nothing was queued: invite me with \`/invite @${await nameOf(client)}\` and try again`
            : `I cannot post in this channel (${code}); nothing was queued`,
        );
      });
    const ts = placeholder.ts as string;
    const threadTs = who.threadTs ?? ts;
    const answer = await service.frontEnd.submit({
      requestKey,
      user: { platform: 'slack', externalId: who.userId, displayName: who.userName },
      workspace: { platform: 'slack', externalId: who.teamId, name: who.teamId },
      origin: { platform: 'slack', channelId: who.channelId, messageId: ts, threadId: threadTs },
      request,
      maxBytes: config.SLACK_UPLOAD_MAX_BYTES,
      ...(derivedFrom === undefined ? {} : { derivedFrom }),
    });
    if (!answer.ok || answer.duplicate) {
      await client.chat.delete({ channel: who.channelId, ts }).catch(() => undefined);
      await ephemeral(
        client,
        who,
        answer.ok
          ? `This request is already queued as job \`${answer.jobId}\`; its message shows the progress.`
          : errorText(answer.error.message, answer.requestId),
      );
      return;
    }
    posted.set(answer.jobId, { channelId: who.channelId, ts, threadTs, prompt: request.prompt });
    log.info({ jobId: answer.jobId, requestId: answer.requestId, task: request.task }, 'slack job queued');
    // Supersedable: when the worker's first progress edit is queued before this one's turn, "queued" is old news.
    await edits.edit(
      `${who.channelId}/${ts}`,
      () =>
        client.chat.update({
          channel: who.channelId,
          ts,
          ...queuedMessage({
            prompt: request.prompt,
            position: answer.position,
            etaSeconds: answer.etaSeconds,
            jobId: answer.jobId,
          }),
        }),
      { supersedable: true },
    );
  }

  /** The requester in the core's ids (their user and this team's workspace). */
  const ids = (who: Pick<Requester, 'userId' | 'userName' | 'teamId'>) =>
    service.frontEnd.identify({
      user: { platform: 'slack', externalId: who.userId, displayName: who.userName },
      workspace: { platform: 'slack', externalId: who.teamId, name: who.teamId },
    });
  /** The requester as the core's access rule sees them: a public result is theirs to use in its channel. */
  const actor = async (who: Requester): Promise<Actor> => ({ ...(await ids(who)), channelId: who.channelId });
  /**
   * For cancel and delete: SLACK_ADMIN_USER_IDS are set by whoever runs the bot, so they operate the whole
   * deployment (see `Actor.admin`).
   */
  const owner = async (who: Requester): Promise<Actor> => ({
    userId: (await ids(who)).userId,
    admin: isAdmin(who.userId),
  });
  /** The core's request (Extend, Re-roll, Remix) or its refusal, thrown to `guard`. */
  const made = async (remade: Promise<Remade>) => {
    const answer = await remade;
    if (!answer.ok) throw answer.error;
    return answer;
  };
  /** A job or clip the requester may see (Info, the prompt a form is filled with); the refusal otherwise. */
  const seen = async (who: Requester, clipId: string) => {
    const verdict = await service.frontEnd.info({ clipId }, await actor(who));
    if (!verdict.ok) throw verdict.error;
    return { job: verdict.job, params: verdict.job.parameters as Record<string, unknown> };
  };

  // ---- Slash commands -------------------------------------------------------------------------------------------

  app.command('/t2v', async ({ command, ack, client }) => {
    await ack();
    const who = requesterOf(command);
    await guard(client, who, async () => {
      const parsed = parseCommandArguments(command.text);
      if (!parsed.ok) throw parsed.error;
      await startJob(client, who, `slack:${command.trigger_id}`, {
        task: 't2v',
        ...parsed.value.options,
        prompt: parsed.value.rest.join(' '),
      });
    });
  });

  for (const kind of ['animate', 'keyframes'] as const) {
    app.command(`/${kind}`, async ({ command, ack, client }) => {
      await ack();
      const who = requesterOf(command);
      await guard(client, who, async () => {
        const parsed = parseCommandArguments(command.text);
        if (!parsed.ok) throw parsed.error;
        const meta: ImageModalMeta = { kind, channelId: command.channel_id, options: parsed.value.options };
        await client.views.open({
          trigger_id: command.trigger_id,
          view: imageModal(meta, parsed.value.rest.join(' '), config),
        });
      });
    });
  }

  app.command('/extend', async ({ command, ack, client }) => {
    await ack();
    const who = requesterOf(command);
    await guard(client, who, async () => {
      const parsed = parseCommandArguments(command.text);
      if (!parsed.ok) throw parsed.error;
      const [clipId, ...words] = parsed.value.rest;
      if (clipId === undefined)
        throw new UserError('InvalidOption', 'usage: /extend <clip id> [prompt]; /history lists your clips');
      const { request } = await made(
        service.frontEnd.extendOf(clipId, await actor(who), {
          prompt: words.join(' '),
          options: parsed.value.options,
        }),
      );
      await startJob(client, who, `slack:${command.trigger_id}`, request);
    });
  });

  app.command('/transition', async ({ command, ack, client }) => {
    await ack();
    const who = requesterOf(command);
    await guard(client, who, async () => {
      const parsed = parseCommandArguments(command.text);
      if (!parsed.ok) throw parsed.error;
      const [from, to, ...words] = parsed.value.rest;
      if (from === undefined || to === undefined)
        throw new UserError('InvalidOption', 'usage: /transition <from clip id> <to clip id> [prompt]');
      const { params } = await seen(who, from);
      await startJob(client, who, `slack:${command.trigger_id}`, {
        task: 'transition',
        ...parsed.value.options,
        prompt: words.length > 0 ? words.join(' ') : String(params['prompt'] ?? ''),
        clips: [{ clipId: from }, { clipId: to }],
      });
    });
  });

  app.command('/quota', async ({ command, ack, client }) => {
    await ack();
    const who = requesterOf(command);
    await guard(client, who, async () => {
      const { userId, workspaceId } = await ids(who);
      const q = await service.frontEnd.quota(userId, workspaceId);
      await ephemeral(
        client,
        who,
        `📊 Today: ${q.usedSeconds} of ${q.limitSeconds} GPU s used, ${q.reservedSeconds} s reserved, ${q.remainingSeconds} s left · ${q.queued}/${q.maxQueued} jobs in flight · resets ${q.resetsAt.toISOString()}\n${q.explanation}`,
      );
    });
  });

  app.command('/history', async ({ command, ack, client }) => {
    await ack();
    const who = requesterOf(command);
    await guard(client, who, async () => {
      const limit = Math.min(20, Math.max(1, Number.parseInt(command.text, 10) || 10));
      const { userId } = await ids(who);
      const jobs = await service.frontEnd.history(userId, limit);
      const lines = jobs.map(
        (j) =>
          `• \`${j.id}\` ${j.task} · ${j.status}${j.clip === null ? '' : ` · clip \`${j.clip.id}\``} · ${escapeMrkdwn(String(j.parameters['prompt'] ?? '')).slice(0, 80)}`,
      );
      await ephemeral(
        client,
        who,
        lines.length === 0 ? 'You have no requests yet.' : `🕘 Your last ${lines.length}:\n${lines.join('\n')}`,
      );
    });
  });

  app.command('/cancel', async ({ command, ack, client }) => {
    await ack();
    const who = requesterOf(command);
    await guard(client, who, async () => {
      const jobId = command.text.trim();
      if (jobId === '') throw new UserError('InvalidOption', 'usage: /cancel <job id>; /history lists your jobs');
      await cancelJob(client, who, jobId);
    });
  });

  /**
   * `/admin …` for the user ids in SLACK_ADMIN_USER_IDS, mirroring Discord's `/admin`: `quota <@user|id> <seconds>`,
   * `workspace-quota <seconds>`, `pause`, `resume`, `ban <@user|id> [reason]`, `unban <@user|id>`,
   * `block <word>` and `unblock <rule id>`.
   */
  app.command('/admin', async ({ command, ack, client }) => {
    await ack();
    const who = requesterOf(command);
    await guard(client, who, async () => {
      if (!isAdmin(who.userId))
        throw new UserError('NotAllowed', 'only workspace admins (SLACK_ADMIN_USER_IDS) may use /admin');
      const [action = '', target = '', ...rest] = command.text.trim().split(/\s+/);
      // SLACK_ADMIN_USER_IDS are set by whoever runs the bot: operators of the whole deployment (see `Actor.admin`).
      const by = { admin: true } as const;
      const operator = service.frontEnd.operator;
      const userIdOf = (mention: string) => /^<@([A-Z0-9]+)(?:\|[^>]*)?>$/.exec(mention)?.[1] ?? mention;
      const member = () => {
        if (target === '') throw new UserError('InvalidOption', `usage: /admin ${action} <@user>`);
        return { platform: 'slack' as const, externalId: userIdOf(target), displayName: userIdOf(target) };
      };
      const seconds = (text: string) => {
        const value = Number(text);
        if (text === '' || !Number.isInteger(value) || value < 0)
          throw new UserError('InvalidOption', `expected whole GPU seconds, got "${text}"`);
        return value;
      };
      /** The core's answer, or its refusal thrown to `guard`. */
      const done = async <TAnswer extends { ok: true } | { ok: false; error: UserError }>(result: Promise<TAnswer>) => {
        const answer = await result;
        if (!answer.ok) throw (answer as { error: UserError }).error;
        return answer as Extract<TAnswer, { ok: true }>;
      };
      let said: string;
      switch (action) {
        case 'quota':
          await done(operator.setUserQuota(by, member(), seconds(rest[0] ?? '')));
          said = `daily quota of ${target} set to ${rest[0]} GPU s`;
          break;
        case 'workspace-quota':
          await done(
            operator.setWorkspaceLimits(by, (await ids(who)).workspaceId, { userDailyGpuSeconds: seconds(target) }),
          );
          said = `default daily quota set to ${target} GPU s per user`;
          break;
        case 'pause':
          await done(operator.pause(by));
          said = 'queue paused: nothing new starts until /admin resume';
          break;
        case 'resume':
          await done(operator.resume(by));
          said = 'queue resumed';
          break;
        case 'ban':
          await done(operator.ban(by, member(), rest.join(' ') || 'banned by a workspace admin'));
          said = `${target} banned`;
          break;
        case 'unban':
          await done(operator.unban(by, member()));
          said = `${target} unbanned`;
          break;
        case 'block': {
          const { rule } = await done(
            operator.block(by, (await ids(who)).workspaceId, {
              pattern: [target, ...rest].join(' '),
              kind: 'word',
              createdBy: who.userId,
            }),
          );
          said = `prompts containing "${rule.pattern}" are now refused (rule ${rule.id})`;
          break;
        }
        case 'unblock':
          await done(operator.unblock(by, (await ids(who)).workspaceId, target));
          said = `rule ${target} removed`;
          break;
        default:
          throw new UserError(
            'InvalidOption',
            'usage: /admin quota <@user> <seconds> | workspace-quota <seconds> | pause | resume | ban <@user> [reason] | unban <@user> | block <word> | unblock <rule id>',
          );
      }
      log.info({ admin: who.userId, action }, 'slack admin action');
      await ephemeral(client, who, `🛠️ ${said}`);
    });
  });

  async function cancelJob(client: Client, who: Requester, jobId: string) {
    const result = await service.frontEnd.cancel(jobId, await owner(who));
    if (!result.ok) throw result.error;
    await ephemeral(
      client,
      who,
      result.state === 'cancelled' ? `🚫 Job \`${jobId}\` cancelled.` : `🚫 Stopping job \`${jobId}\`…`,
    );
  }

  // ---- Modals ---------------------------------------------------------------------------------------------------

  app.view(IMAGE_MODAL, async ({ ack, view, body, client }) => {
    const meta = JSON.parse(view.private_metadata) as ImageModalMeta;
    const values = view.state.values;
    const picked: SlackFileLike[] = meta.fileIds?.map((id) => ({ id })) ?? values['images']?.['files']?.files ?? [];
    const prompt = values['prompt']?.['text']?.value ?? '';
    const tooBig = picked.find((f) => (f.size ?? 0) > config.SLACK_DOWNLOAD_MAX_BYTES);
    if (picked.length === 0 || tooBig !== undefined) {
      const mb = (config.SLACK_DOWNLOAD_MAX_BYTES / 1024 / 1024).toFixed(0);
      await ack({
        response_action: 'errors',
        errors: {
          images:
            tooBig === undefined
              ? 'Choose an image'
              : `${tooBig.name ?? 'That file'} is over ${mb} MB; choose a smaller image`,
        },
      });
      return;
    }
    await ack();
    const who: Requester = {
      userId: body.user.id,
      userName: body.user.name,
      teamId: body.team?.id ?? body.user.team_id ?? 'unknown',
      channelId: meta.channelId,
      ...(meta.threadTs === undefined ? {} : { threadTs: meta.threadTs }),
    };
    await guard(client, who, async () => {
      const images: { bytes: Buffer; name?: string }[] = [];
      for (const file of picked) {
        // Always ask Slack about the file: its download address comes from Slack, not from the payload.
        const info = await client.files.info({ file: file.id ?? '' }).catch(() => {
          throw new UserError('NotFound', `${file.name ?? file.id} is not visible to me; is files:read granted?`);
        });
        const described = info.file as SlackFileLike;
        const bytes = await downloadSlackFile(fetchFn, described, config.SLACK_BOT_TOKEN, {
          origins: config.SLACK_FILE_ORIGINS,
          maxBytes: config.SLACK_DOWNLOAD_MAX_BYTES,
          timeoutMs: config.SLACK_DOWNLOAD_TIMEOUT_MS,
        });
        images.push({ bytes, ...(described.name === undefined ? {} : { name: described.name }) });
      }
      const frames = meta.options.frames ?? manifest.video.defaultFrames;
      const last = (frames - 1) / manifest.latent.temporalFactor;
      const request: SubmitInput['request'] =
        meta.kind === 'animate'
          ? { task: 'i2v', ...meta.options, prompt, images: images.slice(0, 1) }
          : {
              task: 'keyframes',
              ...meta.options,
              prompt,
              images: images.map((image, i) => ({
                ...image,
                latentIndex: images.length === 1 ? 0 : Math.round((i * last) / (images.length - 1)),
              })),
            };
      await startJob(client, who, `slack:view:${view.id}`, request);
    });
  });

  app.view(REMIX_MODAL, async ({ ack, view, body, client }) => {
    await ack();
    const meta = JSON.parse(view.private_metadata) as { clipId: string; channelId: string; threadTs: string };
    const who: Requester = {
      userId: body.user.id,
      userName: body.user.name,
      teamId: body.team?.id ?? body.user.team_id ?? 'unknown',
      channelId: meta.channelId,
      threadTs: meta.threadTs,
    };
    await guard(client, who, async () => {
      const prompt = view.state.values['prompt']?.['text']?.value ?? '';
      const { request, derivedFrom } = await made(
        service.frontEnd.remake({ clipId: meta.clipId }, await actor(who), { kind: 'remix', prompt }),
      );
      await startJob(client, who, `slack:view:${view.id}`, request, derivedFrom);
    });
  });

  // ---- Message shortcuts ----------------------------------------------------------------------------------------

  app.shortcut({ callback_id: SHORTCUT_ANIMATE, type: 'message_action' }, async ({ shortcut, ack, client }) => {
    await ack();
    const who = requesterOfShortcut(shortcut);
    await guard(client, who, async () => {
      const files = ((shortcut.message['files'] ?? []) as SlackFileLike[]).filter((f) =>
        f.mimetype?.startsWith('image/'),
      );
      const first = files[0];
      if (first?.id === undefined)
        throw new UserError(
          'InvalidInput',
          'that message has no image; use "Animate this image" on a message with a PNG, JPEG or WebP',
        );
      const meta: ImageModalMeta = {
        kind: 'animate',
        channelId: who.channelId,
        ...(who.threadTs === undefined ? {} : { threadTs: who.threadTs }),
        fileIds: [first.id],
        options: {},
      };
      await client.views.open({ trigger_id: shortcut.trigger_id, view: imageModal(meta, '', config) });
    });
  });

  app.shortcut({ callback_id: SHORTCUT_EXTEND, type: 'message_action' }, async ({ shortcut, ack, client }) => {
    await ack();
    const who = requesterOfShortcut(shortcut);
    await guard(client, who, async () => {
      const clipId = clipIdOf(shortcut.message);
      if (clipId === undefined)
        throw new UserError(
          'InvalidInput',
          'that message is not one of my clips; use "Extend this clip" on a result or its video',
        );
      const { request } = await made(service.frontEnd.extendOf(clipId, await actor(who)));
      await startJob(client, who, `slack:${shortcut.trigger_id}`, request);
    });
  });

  // ---- Buttons: stateless, the clip in the value; a double click (same message, user, action) makes one job ------

  const buttonContext = (body: BlockAction) => {
    const value = (body.actions[0] as ButtonAction | undefined)?.value;
    const messageTs = body.container['message_ts'] as string | undefined;
    const threadTs = (body.message?.['thread_ts'] as string | undefined) ?? messageTs;
    const who: Requester = {
      userId: body.user.id,
      userName: body.user.name ?? body.user.id,
      teamId: body.team?.id ?? body.user.team_id ?? 'unknown',
      channelId: body.channel?.id ?? (body.container['channel_id'] as string),
      ...(threadTs === undefined ? {} : { threadTs }),
      ...(body.response_url === undefined ? {} : { responseUrl: body.response_url }),
    };
    return { value, messageTs, who };
  };
  const clipButton = (
    actionId: string,
    run: (args: {
      client: Client;
      who: Requester;
      clip: ClipButtonValue;
      messageTs: string;
      triggerId: string;
    }) => Promise<void>,
  ) =>
    app.action<BlockAction>(actionId, async ({ ack, body, client }) => {
      await ack();
      const { value, messageTs, who } = buttonContext(body);
      await guard(client, who, async () => {
        const clip = parseButtonValue(value);
        if (clip === null || messageTs === undefined)
          throw new UserError('InvalidInput', 'this button is from an older version; run the command again');
        await run({ client, who, clip, messageTs, triggerId: body.trigger_id });
      });
    });

  clipButton(ACTION.extend, async ({ client, who, clip, messageTs }) => {
    const { request } = await made(service.frontEnd.extendOf(clip.clipId, await actor(who)));
    await startJob(client, who, `slack:extend:${messageTs}:${who.userId}`, request);
  });
  clipButton(ACTION.reroll, async ({ client, who, clip, messageTs }) => {
    const { request, derivedFrom } = await made(
      service.frontEnd.remake({ clipId: clip.clipId }, await actor(who), { kind: 'reroll' }),
    );
    await startJob(client, who, `slack:reroll:${messageTs}:${who.userId}`, request, derivedFrom);
  });
  clipButton(ACTION.remix, async ({ client, who, clip, triggerId }) => {
    const { params } = await seen(who, clip.clipId);
    await client.views.open({
      trigger_id: triggerId,
      view: {
        type: 'modal',
        callback_id: REMIX_MODAL,
        private_metadata: JSON.stringify({ clipId: clip.clipId, channelId: who.channelId, threadTs: who.threadTs }),
        title: { type: 'plain_text', text: 'Remix' },
        submit: { type: 'plain_text', text: 'Generate' },
        blocks: [promptInput(String(params['prompt'] ?? ''))],
      },
    });
  });
  clipButton(ACTION.info, async ({ client, who, clip }) => {
    const { job, params } = await seen(who, clip.clipId);
    const record = job.clip;
    if (record === null) throw new UserError('NotFound', `clip ${clip.clipId} was not found; it may have been deleted`);
    await ephemeral(
      client,
      who,
      [
        `ℹ️ Clip \`${record.id}\` (job \`${job.id}\`, ${job.task})`,
        `prompt: ${escapeMrkdwn(String(params['prompt'] ?? ''))}`,
        `seed ${record.seed} · steps ${String(params['steps'] ?? manifest.defaults.steps)} · ${record.frames} frames at ${record.fps} fps · ${record.width}×${record.height} · ${(record.sizeBytes / 1024).toFixed(0)} KB · ${job.chargedSeconds} GPU s charged`,
        ...(record.parentClipId === null ? [] : [`extends clip \`${record.parentClipId}\``]),
      ].join('\n'),
    );
  });
  clipButton(ACTION.delete, async ({ client, who, clip, messageTs }) => {
    // The core decides (the owner, or an operator) and deletes the result (history, files, Extend), as every front
    // end's Delete does; then the upload.
    const by = await owner(who);
    const verdict = await service.frontEnd.authorize({ clipId: clip.clipId }, by, 'delete');
    if (!verdict.ok) throw verdict.error;
    const removed = await service.frontEnd.remove(verdict.job.id, by);
    if (!removed.ok) throw removed.error;
    if (clip.fileId !== undefined) await client.files.delete({ file: clip.fileId }).catch(() => undefined);
    await edits.edit(`${who.channelId}/${messageTs}`, () =>
      client.chat.update({
        channel: who.channelId,
        ts: messageTs,
        text: `🗑️ Deleted by <@${who.userId}>`,
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `🗑️ Deleted by <@${who.userId}>` } }],
      }),
    );
  });
  app.action<BlockAction>(ACTION.cancel, async ({ ack, body, client }) => {
    await ack();
    const { value, who } = buttonContext(body);
    await guard(client, who, () => cancelJob(client, who, value ?? ''));
  });
}

function requesterOf(command: {
  user_id: string;
  user_name: string;
  team_id: string;
  channel_id: string;
  response_url?: string;
}): Requester {
  return {
    userId: command.user_id,
    userName: command.user_name,
    teamId: command.team_id,
    channelId: command.channel_id,
    ...(command.response_url === undefined ? {} : { responseUrl: command.response_url }),
  };
}

function requesterOfShortcut(shortcut: {
  user: { id: string; name?: string; username?: string; team_id?: string };
  team: { id: string } | null;
  channel: { id: string };
  message: { ts: string; thread_ts?: string; [key: string]: unknown };
  response_url?: string;
}): Requester {
  return {
    userId: shortcut.user.id,
    userName: shortcut.user.name ?? shortcut.user.username ?? shortcut.user.id,
    teamId: shortcut.team?.id ?? shortcut.user.team_id ?? 'unknown',
    channelId: shortcut.channel.id,
    threadTs: shortcut.message.thread_ts ?? shortcut.message.ts,
    ...(shortcut.response_url === undefined ? {} : { responseUrl: shortcut.response_url }),
  };
}

/** The clip id in a result message (its buttons) or a result video (its file name `pusa-<clip id>.mp4`). */
export function clipIdOf(message: Record<string, unknown>): string | undefined {
  for (const block of (message['blocks'] ?? []) as { elements?: { value?: string }[] }[])
    for (const element of block.elements ?? []) {
      const parsed = parseButtonValue(element.value);
      if (parsed !== null) return parsed.clipId;
    }
  for (const file of (message['files'] ?? []) as { name?: string }[]) {
    const match = /^pusa-([\w-]+)\.mp4$/.exec(file.name ?? '');
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

function promptInput(initial: string): types.KnownBlock {
  return {
    type: 'input',
    block_id: 'prompt',
    label: { type: 'plain_text', text: 'Prompt' },
    element: {
      type: 'plain_text_input',
      action_id: 'text',
      max_length: 500,
      ...(initial === '' ? {} : { initial_value: initial }),
    },
  };
}

function imageModal(meta: ImageModalMeta, prompt: string, config: SlackConfig): types.ModalView {
  const mb = Math.floor(config.SLACK_DOWNLOAD_MAX_BYTES / 1024 / 1024);
  return {
    type: 'modal',
    callback_id: IMAGE_MODAL,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: meta.kind === 'animate' ? 'Animate an image' : 'Keyframes' },
    submit: { type: 'plain_text', text: 'Generate' },
    blocks: [
      ...(meta.fileIds === undefined
        ? [
            {
              type: 'input' as const,
              block_id: 'images',
              label: {
                type: 'plain_text' as const,
                text:
                  meta.kind === 'animate'
                    ? `Image (PNG, JPEG or WebP, up to ${mb} MB)`
                    : `Keyframes in order, first to last (up to 8, ${mb} MB each)`,
              },
              element: {
                type: 'file_input' as const,
                action_id: 'files',
                filetypes: ['png', 'jpg', 'jpeg', 'webp'],
                max_files: meta.kind === 'animate' ? 1 : 8,
              },
            },
          ]
        : []),
      promptInput(prompt),
    ],
  };
}
