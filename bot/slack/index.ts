import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, type Logger, LogLevel } from '@slack/bolt';
import { parseOrigin } from '../../commands/index.ts';
import type { Delivery, JobUpdate } from '../core/events.ts';
import { QUEUE_UNAVAILABLE } from '../core/outage.ts';
import type { FrontDoor } from '../front-door.ts';
import { listen } from '../listen.ts';
import { type PostedJob, registerHandlers, type SlackLog } from './app.ts';
import { readSlackBody } from './body-guard.ts';
import type { SlackConfig } from './config.ts';
import { createMessageEdits } from './edits.ts';
import {
  endedMessage,
  errorText,
  escapeMrkdwn,
  longNote,
  progressMessage,
  resultMessage,
  segmentComment,
} from './render.ts';

export { loadSlackConfig, SlackConfig } from './config.ts';

/** How long a job's upload and reposted result are remembered: as long as its delivery can still be retried. */
const NOTE_TTL_SECONDS = 7 * 86_400;

/** The `error` of a Slack Web API platform error (`{ ok: false, error }`), else undefined. */
function slackError(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | null)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

export interface SlackFrontEnd {
  /** Posts a finished job whose origin is Slack; other platforms' deliveries are ignored. Throwing retries it. */
  deliver(delivery: Delivery): Promise<void>;
  /** Edits the job's message with progress, at most once per `SLACK_PROGRESS_INTERVAL_MS`. */
  onUpdate(update: JobUpdate): void;
  /** `http://host:port/slack/events` in HTTP mode; undefined in Socket Mode. */
  readonly eventsUrl: string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the Slack front end on an existing service: a Bolt app over HTTP (signed requests; replays refused) or
 * Socket Mode when `SLACK_APP_TOKEN` is set. `composeBot` (bot/compose.ts) routes the service's deliveries and
 * updates of Slack jobs to the returned object.
 */
export async function startSlack(service: FrontDoor, config: SlackConfig, log: SlackLog): Promise<SlackFrontEnd> {
  const socketMode = config.SLACK_APP_TOKEN !== undefined;
  const clientOptions = {
    slackApiUrl: config.SLACK_API_URL,
    retryConfig: { retries: config.SLACK_API_RETRIES, factor: 1.5, minTimeout: 200, maxTimeout: 5_000 },
  };
  const logger = boltLogger(log);
  const receiver = socketMode
    ? undefined
    : new HTTPReceiver({ signingSecret: config.SLACK_SIGNING_SECRET ?? '', logger, processBeforeResponse: false });
  const app = new App({
    token: config.SLACK_BOT_TOKEN,
    logger,
    clientOptions,
    deferInitialization: true,
    // app.error gets the event's context (its requester) and body, not the error alone (bot/slack/errors.ts).
    extendedErrorHandler: true,
    ...(receiver === undefined ? { socketMode: true, appToken: config.SLACK_APP_TOKEN as string } : { receiver }),
  });
  const posted = new Map<string, PostedJob>();
  const edits = createMessageEdits();
  registerHandlers(app, { service, config, log, posted, edits });
  await app.init();

  let server: Server | undefined;
  let eventsUrl: string | undefined;
  if (receiver === undefined) {
    await app.start();
  } else {
    const replays = createReplayGuard(service, 300, service.frontEnd.queueAvailable);
    server = createServer((req, res) => {
      void (async () => {
        if (!(await replays.admit(req, res))) return;
        if (await readSlackBody(req, res)) receiver.requestListener(req, res);
      })().catch((error: unknown) => {
        log.warn({ err: (error as Error).message }, 'slack request refused: the replay record is unavailable');
        if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain' }).end('try again');
      });
    });
    await listen(server, config.SLACK_PORT, config.SLACK_HOST);
    const { port } = server.address() as AddressInfo;
    const host = config.SLACK_HOST === '0.0.0.0' ? '127.0.0.1' : config.SLACK_HOST;
    eventsUrl = `http://${host}:${port}/slack/events`;
  }
  log.info({ mode: socketMode ? 'socket' : 'http', eventsUrl }, 'slack front end ready');

  /** Where a job's message is: this process's record, else the job's stored origin (after a restart). */
  const notOurs = new Set<string>();
  const targetOf = async (jobId: string): Promise<PostedJob | null> => {
    const hit = posted.get(jobId);
    if (hit !== undefined) return hit;
    if (notOurs.has(jobId)) return null;
    const job = await service.frontEnd.postedAt(jobId);
    if (job === null) return null;
    const origin = parseOrigin(job.origin);
    if (origin?.platform !== 'slack' || origin.channelId === undefined || origin.messageId === undefined) {
      // Another front end's job (Discord shares the service): remember, so its progress costs no more reads.
      notOurs.add(jobId);
      if (notOurs.size > 10_000) notOurs.delete(notOurs.values().next().value as string);
      return null;
    }
    const target = {
      channelId: origin.channelId,
      ts: origin.messageId,
      threadTs: origin.threadId ?? origin.messageId,
      prompt: job.prompt,
    };
    posted.set(jobId, target);
    return target;
  };

  const lastEdit = new Map<string, number>();
  const finished = new Set<string>();
  // The newest preview of each job: previews come every few steps, progress edits every 2 s.
  const previews = new Map<string, { width: number; height: number; rgbBase64: string }>();
  // The last /long segment posted in each chain's thread, named by its progress edits.
  const landed = new Map<string, number>();
  /**
   * A /long segment landed: its MP4 posted in the job's thread (once, across retries and restarts), and the
   * placeholder says so. Best effort, like the update itself: the final clip holds every segment.
   */
  function onSegment(update: Extract<JobUpdate, { kind: 'segment' }>): void {
    void (async () => {
      const target = await targetOf(update.jobId);
      if (target === null || finished.has(update.jobId)) return;
      const key = `slack:segment:${update.jobId}:${update.index}`;
      if (!(await service.firstSeen(key, NOTE_TTL_SECONDS))) return;
      await app.client.filesUploadV2({
        channel_id: target.channelId,
        thread_ts: target.threadTs,
        file: update.mp4Absolute,
        filename: `pusa-${update.jobId}-segment-${update.index}.mp4`,
        title: `Segment ${update.index} of ${update.count}`,
        initial_comment: segmentComment(update.index, update.count, update.prompt),
      });
      landed.set(update.jobId, Math.max(update.index, landed.get(update.jobId) ?? 0));
    })().catch((error: unknown) =>
      log.warn({ jobId: update.jobId, err: (error as Error).message }, 'segment upload failed'),
    );
  }

  function onUpdate(update: JobUpdate): void {
    if (update.kind === 'segment') {
      onSegment(update);
      return;
    }
    if (finished.has(update.jobId)) return;
    if (update.kind === 'progress' && update.preview !== undefined) previews.set(update.jobId, update.preview);
    const at = Date.now();
    if (update.kind !== 'requeued' && at - (lastEdit.get(update.jobId) ?? 0) < config.SLACK_PROGRESS_INTERVAL_MS)
      return;
    lastEdit.set(update.jobId, at);
    void (async () => {
      const target = await targetOf(update.jobId);
      if (target === null || finished.has(update.jobId)) return;
      const message =
        update.kind === 'progress'
          ? progressMessage({
              prompt: target.prompt,
              step: update.step,
              total: update.total,
              etaMs: update.etaMs,
              jobId: update.jobId,
              preview: update.segment === undefined ? previews.get(update.jobId) : undefined,
              segment: update.segment,
              landed: landed.get(update.jobId),
            })
          : update.kind === 'started'
            ? progressMessage({ prompt: target.prompt, step: 0, total: 1, etaMs: 0, jobId: update.jobId })
            : endedMessage(target.prompt, `↩️ Requeued: ${update.reason}`);
      await edits.edit(
        `${target.channelId}/${target.ts}`,
        () => app.client.chat.update({ channel: target.channelId, ts: target.ts, ...message }),
        { supersedable: true, stale: () => finished.has(update.jobId) },
      );
    })().catch((error: unknown) =>
      log.warn({ jobId: update.jobId, err: (error as Error).message }, 'progress edit failed'),
    );
  }

  async function deliver(delivery: Delivery): Promise<void> {
    lastEdit.delete(delivery.jobId);
    notOurs.delete(delivery.jobId);
    if (delivery.origin.platform !== 'slack') return;
    // Late progress events must not overwrite the result; forget the job once they can no longer arrive.
    finished.add(delivery.jobId);
    previews.delete(delivery.jobId);
    landed.delete(delivery.jobId);
    setTimeout(() => finished.delete(delivery.jobId), 60_000).unref();
    const target = await targetOf(delivery.jobId);
    if (target === null) {
      log.warn({ jobId: delivery.jobId }, 'slack delivery without a channel or message; dropped');
      return;
    }
    // Queued behind any progress edit still in flight (or being retried after a 429), so the result lands last.
    const edit = (message: { text: string; blocks: object[] }) =>
      edits.edit(`${target.channelId}/${target.ts}`, () =>
        app.client.chat.update({ channel: target.channelId, ts: target.ts, ...message } as Parameters<
          typeof app.client.chat.update
        >[0]),
      );
    /**
     * The job's final word on its placeholder; when the placeholder is gone (deleted by someone), a new message in
     * its thread instead, posted once: a delivery that threw `message_not_found` forever re-uploaded on every retry.
     */
    const finalWord = async (message: { text: string; blocks: object[] }) => {
      try {
        await edit(message);
      } catch (error) {
        if (slackError(error) !== 'message_not_found') throw error;
        const postedKey = `slack:result-message:${delivery.jobId}`;
        if ((await service.recall(postedKey)) !== undefined) return;
        const reply = await app.client.chat.postMessage({
          channel: target.channelId,
          // The clip was uploaded as a reply there, so the thread outlives its deleted first message.
          thread_ts: target.threadTs,
          ...message,
        } as Parameters<typeof app.client.chat.postMessage>[0]);
        await service.remember(postedKey, String(reply.ts ?? ''), NOTE_TTL_SECONDS);
        log.warn({ jobId: delivery.jobId, ts: reply.ts }, 'slack placeholder gone; the result was posted anew');
      }
    };
    if (delivery.kind === 'failed') {
      await finalWord(endedMessage(target.prompt, `❌ ${errorText(delivery.message, delivery.requestId).slice(3)}`));
    } else if (delivery.kind === 'cancelled') {
      await finalWord(endedMessage(target.prompt, '🚫 Cancelled; nothing was charged.'));
    } else {
      // One upload per job: a retry (the edit below failed, or the bot restarted) reuses the file already shared.
      // A /long clip over the upload limit is not uploaded at all (Slack would refuse it); the result says so.
      const overLimit = delivery.long?.overLimit === true;
      const uploadKey = `slack:upload:${delivery.jobId}`;
      let fileId = overLimit ? '' : await service.recall(uploadKey);
      if (fileId === undefined) {
        const upload = await app.client.filesUploadV2({
          channel_id: target.channelId,
          thread_ts: target.threadTs,
          file: delivery.mp4Absolute,
          filename: `pusa-${delivery.clipId}.mp4`,
          title: target.prompt.slice(0, 100),
          initial_comment: `🎞️ ${escapeMrkdwn(target.prompt.slice(0, 200))}`,
        });
        fileId = (upload.files as { files?: { id?: string }[] }[] | undefined)?.[0]?.files?.[0]?.id ?? '';
        await service.remember(uploadKey, fileId, NOTE_TTL_SECONDS);
      }
      await finalWord(
        resultMessage({
          prompt: target.prompt,
          frames: delivery.frames,
          gpuSeconds: delivery.gpuSeconds,
          value: { clipId: delivery.clipId, jobId: delivery.jobId, ...(fileId === '' ? {} : { fileId }) },
          ...(delivery.long === undefined ? {} : { note: longNote(delivery.long, delivery.bytes) }),
          ...(overLimit ? { uploaded: false } : {}),
        }),
      );
    }
    posted.delete(delivery.jobId);
    log.info({ jobId: delivery.jobId, requestId: delivery.requestId, kind: delivery.kind }, 'slack delivered');
  }

  return {
    deliver,
    onUpdate,
    eventsUrl,
    async stop() {
      if (server !== undefined) {
        const closing = server;
        await new Promise<void>((resolve) => closing.close(() => resolve()));
        closing.closeAllConnections();
      } else {
        await app.stop();
      }
    },
  };
}

/**
 * Refuses a signed request whose signature was seen in the last `windowSeconds` (Slack's own timestamp window, so an
 * older copy is refused by Bolt as stale; Slack's own retries carry a new timestamp, hence a new signature). The record lives in Redis (`service.firstSeen`): shared by every bot
 * process, and kept across restarts. Only an answered request counts as used: a forged (401) or cut-off (413) one is
 * forgotten again.
 */
export function createReplayGuard(
  ledger: Pick<FrontDoor, 'firstSeen' | 'forget'>,
  windowSeconds = 300,
  queueAvailable: () => boolean = () => true,
) {
  return {
    async admit(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
      const signature = req.headers['x-slack-signature'];
      const timestamp = Number(req.headers['x-slack-request-timestamp']);
      if (typeof signature !== 'string' || !Number.isFinite(timestamp)) return true; // refused before the body is read
      // Redis down: the record cannot be read (its commands would wait for Redis, past Slack's 3 s), and nothing can be
      // queued. Said at once as a slash command's ephemeral answer; it does no work, so a replay of it gains nothing.
      if (!queueAvailable()) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            response_type: 'ephemeral',
            text: QUEUE_UNAVAILABLE,
          }),
        );
        return false;
      }
      const key = `slack-signature:${signature}`;
      if (!(await ledger.firstSeen(key, windowSeconds))) {
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end('replayed request');
        return false;
      }
      res.once('finish', () => {
        if (res.statusCode >= 400) void ledger.forget(key).catch(() => undefined);
      });
      return true;
    },
  };
}

function boltLogger(log: SlackLog): Logger {
  let level = LogLevel.WARN;
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => log.warn({ source: 'bolt' }, msg.map(String).join(' ')),
    error: (...msg: unknown[]) => log.warn({ source: 'bolt', level: 'error' }, msg.map(String).join(' ')),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
