import type { App } from '@slack/bolt';
import { UserError } from '../../commands/index.ts';
import type { Actor } from '../core/access.ts';
import type { SubmitInput } from '../core/front-end.ts';
import type { LongRequest } from '../core/long.ts';
import type { Remade } from '../core/lookup.ts';
import type { FrontDoor } from '../front-door.ts';
import type { SlackConfig } from './config.ts';
import type { MessageEdits } from './edits.ts';
import { errorText, escapeMrkdwn, longLabel, queuedMessage } from './render.ts';
import type { Requester } from './requester.ts';

export interface SlackLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

export type Client = App['client'];

/** A job this process posted, so progress edits need no database read. */
export interface PostedJob {
  channelId: string;
  ts: string;
  threadTs: string;
  prompt: string;
}

export interface SlackDeps {
  service: FrontDoor;
  config: SlackConfig;
  log: SlackLog;
  posted: Map<string, PostedJob>;
  edits: MessageEdits;
  fetch?: typeof fetch;
}

/** Where a private answer goes: the fields of a `Requester` that say so. */
export type Audience = Pick<Requester, 'channelId' | 'userId' | 'threadTs' | 'responseUrl'>;

/** What the listeners share: telling a user privately, starting a job, and the core's answers as throws. */
export function createKit(deps: SlackDeps) {
  const { service, config, log, posted, edits } = deps;
  const fetchFn = deps.fetch ?? fetch;

  /**
   * Tells the user privately. An ephemeral message needs the app in the channel; where it is not (`not_in_channel`)
   * the payload's `response_url` still reaches the user, and without one a direct message does.
   */
  const tell = async (client: Client, who: Audience, text: string) => {
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

  /** Placeholder message → submit → "queued" (or the placeholder removed and an ephemeral refusal). */
  async function startJob(
    client: Client,
    who: Requester,
    requestKey: string,
    request: SubmitInput['request'],
    derivedFrom?: string,
  ) {
    await start(client, who, request.prompt, async (origin) => {
      const answer = await service.frontEnd.submit({
        requestKey,
        user: { platform: 'slack', externalId: who.userId, displayName: who.userName },
        workspace: { platform: 'slack', externalId: who.teamId, name: who.teamId },
        origin,
        request,
        maxBytes: config.SLACK_UPLOAD_MAX_BYTES,
        ...(derivedFrom === undefined ? {} : { derivedFrom }),
      });
      if (answer.ok)
        log.info({ jobId: answer.jobId, requestId: answer.requestId, task: request.task }, 'slack job queued');
      return answer.ok ? { ...answer, line: undefined } : answer;
    });
  }

  /** `/long`'s chain, as `startJob`: the placeholder, the core's `long()`, and its queued message. */
  async function startLong(client: Client, who: Requester, requestKey: string, request: LongRequest) {
    const label = longLabel(request);
    await start(client, who, label, async (origin) => {
      const answer = await service.frontEnd.long({
        requestKey,
        user: { platform: 'slack', externalId: who.userId, displayName: who.userName },
        workspace: { platform: 'slack', externalId: who.teamId, name: who.teamId },
        origin,
        request,
        maxBytes: config.SLACK_UPLOAD_MAX_BYTES,
      });
      if (!answer.ok) return answer;
      log.info({ jobId: answer.jobId, requestId: answer.requestId, segments: answer.segments }, 'slack chain queued');
      return {
        ...answer,
        line: `${answer.segments} segments, ${answer.totalFrames} frames (${answer.seconds.toFixed(0)} s) · seed ${answer.seed}`,
      };
    });
  }

  type Started =
    | { ok: true; jobId: string; position: number; etaSeconds: number; duplicate: boolean; line: string | undefined }
    | { ok: false; requestId: string; error: UserError };

  async function start(
    client: Client,
    who: Requester,
    prompt: string,
    submit: (origin: { platform: 'slack'; channelId: string; messageId: string; threadId: string }) => Promise<Started>,
  ) {
    const placeholder = await client.chat
      .postMessage({
        channel: who.channelId,
        // The prompt is the user's text: escaped, so `<!channel>` or a disguised link shows as typed.
        text: `⏳ Queuing: ${escapeMrkdwn(prompt)}`,
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
    const answer = await submit({ platform: 'slack', channelId: who.channelId, messageId: ts, threadId: threadTs });
    if (!answer.ok || answer.duplicate) {
      await client.chat.delete({ channel: who.channelId, ts }).catch(() => undefined);
      await tell(
        client,
        who,
        answer.ok
          ? `This request is already queued as job \`${answer.jobId}\`; its message shows the progress.`
          : errorText(answer.error.message, answer.requestId),
      );
      return;
    }
    posted.set(answer.jobId, { channelId: who.channelId, ts, threadTs, prompt });
    // Supersedable: when the worker's first progress edit is queued before this one's turn, "queued" is old news.
    await edits.edit(
      `${who.channelId}/${ts}`,
      () =>
        client.chat.update({
          channel: who.channelId,
          ts,
          ...queuedMessage({
            prompt,
            position: answer.position,
            etaSeconds: answer.etaSeconds,
            jobId: answer.jobId,
            ...(answer.line === undefined ? {} : { line: answer.line }),
          }),
        }),
      { supersedable: true },
    );
  }

  /** SLACK_ADMIN_USER_IDS are set by whoever runs the bot: they operate the whole deployment (see `Actor.admin`). */
  const isAdmin = (userId: string) => config.SLACK_ADMIN_USER_IDS.includes(userId);
  /** The requester as the core's access rule sees them: a public result is theirs to use in its channel. */
  const actor = async (who: Requester): Promise<Actor> => ({ ...(await who.ids), channelId: who.channelId });
  /** For cancel and delete: the owner, or an operator. */
  const owner = async (who: Requester): Promise<Actor> => ({
    userId: (await who.ids).userId,
    admin: isAdmin(who.userId),
  });
  /** The core's request (Extend, Re-roll, Remix), or its refusal thrown to app.error. */
  const made = async (remade: Promise<Remade>) => {
    const answer = await remade;
    if (!answer.ok) throw answer.error;
    return answer;
  };
  /** A job or clip the requester may see (Info, the prompt a form is filled with); the refusal thrown otherwise. */
  const seen = async (who: Requester, clipId: string) => {
    const verdict = await service.frontEnd.info({ clipId }, await actor(who));
    if (!verdict.ok) throw verdict.error;
    return { job: verdict.job, params: verdict.job.parameters as Record<string, unknown> };
  };
  /** Cancel, from `/cancel` or the Cancel button. */
  const cancelJob = async (client: Client, who: Requester, jobId: string) => {
    const result = await service.frontEnd.cancel(jobId, await owner(who));
    if (!result.ok) throw result.error;
    await tell(
      client,
      who,
      result.state === 'cancelled' ? `🚫 Job \`${jobId}\` cancelled.` : `🚫 Stopping job \`${jobId}\`…`,
    );
  };

  return { ...deps, fetch: fetchFn, tell, startJob, startLong, isAdmin, actor, owner, made, seen, cancelJob };
}
export type SlackKit = ReturnType<typeof createKit>;
