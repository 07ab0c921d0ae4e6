import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { BLOCK_KIT, checkMessageBlocks, checkView, specialsIn } from './block-kit.ts';

/** One Web API call the bot made. */
export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  /** The HTTP status the stand-in answered. */
  status: number;
  /** The answer's body (200 only). */
  result?: Record<string, unknown>;
}

export interface FakeFile {
  id: string;
  name: string;
  mimetype: string;
  bytes: Buffer;
  /** Reported size; defaults to the bytes' length (a lie lets a test check the download limit too). */
  size?: number;
}

/**
 * A local Slack: the Web API the bot calls (through `slackApiUrl`), file hosting with bot-token downloads, the
 * upload URLs of `files.uploadV2`, `response_url`s, a Socket Mode WebSocket, and signed requests to the bot's HTTP
 * receiver. As strict as Slack where a bot can go wrong: blocks over the Block Kit limits are `invalid_blocks`, views
 * over theirs `invalid_arguments` (`block-kit.ts`), message text past 40,000 characters is truncated, a channel
 * the bot was not added to answers `not_in_channel` (`setChannels`), a trigger_id opens one view within 3 s of its
 * interaction, and a response_url takes 5 answers. What each posted text would notify or disguise
 * is kept in `specials`.
 */
export interface FakeSlack {
  readonly apiUrl: string;
  readonly origin: string;
  readonly calls: ApiCall[];
  /** Uploaded files by id: bytes, channel and thread once completed. */
  readonly uploads: Map<string, { bytes: Buffer; filename?: string; channel?: string; threadTs?: string }>;
  /** Messages by ts, as last posted or updated. */
  readonly messages: Map<string, { channel: string; text: string; blocks: unknown[]; threadTs?: string }>;
  /** Bodies posted to `response_url`s (`responseUrl(id)`), in order; a sixth to one URL is refused (`used_url`). */
  readonly responses: { id: string; body: Record<string, unknown> }[];
  /** Every view opened, pushed or updated, as Slack accepted it. */
  readonly views: Record<string, unknown>[];
  /** Mentions and disguised links in every text the bot posted, updated or uploaded with (ephemerals excluded). */
  readonly specials: { method: string; ts: string; mentions: string[]; disguisedLinks: string[] }[];
  /** The channels the bot is a member of; undefined (the default): every channel. DMs to users always work. */
  setChannels(ids: string[] | undefined): void;
  /** A `response_url` served by this stand-in; what is posted to it lands in `responses`. */
  responseUrl(id: string): string;
  addFile(file: FakeFile): Record<string, unknown>;
  /** The next `times` calls of `method` answer 429 with `Retry-After: retryAfterS`. */
  rateLimit(method: string, times: number, retryAfterS: number): void;
  /** The next `times` calls of `method` whose arguments `match` answer `{ ok: false, error }` (Slack's own refusals). */
  refuse(method: string, times: number, error: string, match?: (args: Record<string, unknown>) => boolean): void;
  /** Deletes a message as a member would in Slack's client: its `chat.update`s answer `message_not_found` after. */
  deleteMessage(ts: string): boolean;
  callsOf(method: string): ApiCall[];
  /** Posts a signed request to the bot; resolves with the status and the milliseconds to the response. */
  send(url: string, body: string, options: SendOptions): Promise<{ status: number; ms: number; text: string }>;
  /** Socket Mode: sends an envelope to the connected app and resolves with its ack time. */
  sendEnvelope(type: 'slash_commands' | 'interactive' | 'events_api', payload: object): Promise<{ ms: number }>;
  socketConnected(): Promise<void>;
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface SendOptions {
  secret: string;
  contentType: 'application/x-www-form-urlencoded' | 'application/json';
  /** Seconds since the epoch; default now. */
  timestamp?: number;
  /** Overrides the computed signature (forgery). */
  signature?: string;
}

export const BOT_TOKEN = 'xoxb-test-token';
export const APP_TOKEN = 'xapp-test-token';

/** `v0=` HMAC-SHA256 over `v0:<ts>:<body>`, as Slack signs requests. */
export function sign(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const calls: ApiCall[] = [];
  const uploads: FakeSlack['uploads'] = new Map();
  const messages: FakeSlack['messages'] = new Map();
  const files = new Map<string, FakeFile>();
  const limits = new Map<string, { times: number; retryAfterS: number }>();
  const refusals: {
    method: string;
    times: number;
    error: string;
    match: (args: Record<string, unknown>) => boolean;
  }[] = [];
  const responses: FakeSlack['responses'] = [];
  const views: FakeSlack['views'] = [];
  const exchanged = new Set<string>();
  const specials: FakeSlack['specials'] = [];
  let channels: Set<string> | undefined;
  // Users (U…, W…) and DMs (D…) take the bot's messages without an invitation.
  const inChannel = (id: string) => /^[UWD]/.test(id) || channels === undefined || channels.has(id);
  const blockTexts = (blocks: unknown): string[] =>
    (Array.isArray(blocks) ? blocks : []).flatMap((b: { text?: { type?: string; text?: string } }) =>
      b.text?.type === 'mrkdwn' && typeof b.text.text === 'string' ? [b.text.text] : [],
    );
  const note = (method: string, ts: string, texts: string[]) => {
    const found = texts.map(specialsIn);
    const mentions = found.flatMap((f) => f.mentions);
    const disguisedLinks = found.flatMap((f) => f.disguisedLinks);
    if (mentions.length > 0 || disguisedLinks.length > 0) specials.push({ method, ts, mentions, disguisedLinks });
  };
  /** `invalid_blocks` as Slack answers it, or undefined when the blocks are fine. */
  const invalidBlocks = (blocks: unknown) => {
    const errors = checkMessageBlocks(blocks);
    return errors.length === 0
      ? undefined
      : { ok: false, error: 'invalid_blocks', errors, response_metadata: { messages: errors } };
  };
  let ts = 1_700_000_000;
  let fileSeq = 0;
  let origin = '';
  let socket: WebSocket | undefined;
  let onSocket: (() => void) | undefined;
  const acks = new Map<string, () => void>();

  const fileObject = (f: FakeFile) => ({
    id: f.id,
    name: f.name,
    mimetype: f.mimetype,
    size: f.size ?? f.bytes.length,
    url_private_download: `${origin}/files-pri/${f.id}/${f.name}`,
  });

  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  const api = (method: string, args: Record<string, unknown>): Record<string, unknown> => {
    const str = (key: string) => String(args[key] ?? '');
    const json = (key: string): unknown => {
      const v = args[key];
      return typeof v === 'string' ? JSON.parse(v) : (v ?? []);
    };
    switch (method) {
      case 'auth.test':
        return { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1', team: 'Test', user: 'pusa' };
      case 'chat.postMessage': {
        if (!inChannel(str('channel'))) return { ok: false, error: 'not_in_channel' };
        const refused = invalidBlocks(json('blocks'));
        if (refused !== undefined) return refused;
        ts += 1;
        const id = `${ts}.000100`;
        // A message to a user lands in the app's DM with them.
        const channel = str('channel').startsWith('U') ? `D${str('channel')}` : str('channel');
        note(method, id, [str('text'), ...blockTexts(json('blocks'))]);
        messages.set(id, {
          channel,
          text: str('text').slice(0, BLOCK_KIT.messageText),
          blocks: json('blocks') as unknown[],
          ...(args['thread_ts'] ? { threadTs: str('thread_ts') } : {}),
        });
        return { ok: true, channel, ts: id };
      }
      case 'chat.update': {
        if (!inChannel(str('channel'))) return { ok: false, error: 'not_in_channel' };
        const old = messages.get(str('ts'));
        if (old === undefined) return { ok: false, error: 'message_not_found' };
        const refused = invalidBlocks(json('blocks'));
        if (refused !== undefined) return refused;
        note(method, str('ts'), [str('text'), ...blockTexts(json('blocks'))]);
        messages.set(str('ts'), {
          ...old,
          text: str('text').slice(0, BLOCK_KIT.messageText),
          blocks: json('blocks') as unknown[],
        });
        return { ok: true, channel: str('channel'), ts: str('ts') };
      }
      case 'chat.delete':
        return messages.delete(str('ts')) ? { ok: true } : { ok: false, error: 'message_not_found' };
      case 'chat.postEphemeral':
        if (!inChannel(str('channel'))) return { ok: false, error: 'not_in_channel' };
        return invalidBlocks(json('blocks')) ?? { ok: true, message_ts: `${ts}.000200` };
      case 'views.open':
      case 'views.update':
      case 'views.push': {
        const errors = checkView(json('view') as Record<string, unknown>);
        if (errors.length > 0)
          return { ok: false, error: 'invalid_arguments', response_metadata: { messages: errors } };
        if (method !== 'views.update') {
          const trigger = str('trigger_id');
          if (exchanged.has(trigger)) return { ok: false, error: 'exchanged_trigger_id' };
          // The payload builders below stamp their trigger ids with the time of the interaction.
          const issued = Number(/^trig-(\d+)-/.exec(trigger)?.[1] ?? Number.NaN);
          if (Date.now() - issued > BLOCK_KIT.triggerMs) return { ok: false, error: 'expired_trigger_id' };
          exchanged.add(trigger);
        }
        views.push(json('view') as Record<string, unknown>);
        return { ok: true, view: { id: `V${++fileSeq}` } };
      }
      case 'files.info': {
        const f = files.get(str('file'));
        return f === undefined ? { ok: false, error: 'file_not_found' } : { ok: true, file: fileObject(f) };
      }
      case 'files.getUploadURLExternal': {
        const id = `FUP${++fileSeq}`;
        uploads.set(id, { bytes: Buffer.alloc(0), filename: str('filename') });
        return { ok: true, upload_url: `${origin}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        if (args['channel_id'] !== undefined && !inChannel(str('channel_id')))
          return { ok: false, error: 'not_in_channel' };
        const list = json('files') as { id: string; title?: string }[];
        note(method, str('thread_ts'), [str('initial_comment')]);
        for (const f of list) {
          const up = uploads.get(f.id);
          if (up === undefined) return { ok: false, error: 'file_not_found' };
          uploads.set(f.id, {
            ...up,
            channel: str('channel_id'),
            ...(args['thread_ts'] ? { threadTs: str('thread_ts') } : {}),
          });
        }
        return { ok: true, files: list.map((f) => ({ id: f.id, title: f.title })) };
      }
      case 'files.delete':
        return uploads.delete(str('file')) ? { ok: true } : { ok: false, error: 'file_not_found' };
      case 'apps.connections.open':
        return { ok: true, url: `${origin.replace('http', 'ws')}/link` };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const body = await readBody(req);
    const auth = req.headers.authorization ?? '';
    if (url.pathname.startsWith('/api/')) {
      const method = url.pathname.slice('/api/'.length);
      const type = req.headers['content-type'] ?? '';
      const args: Record<string, unknown> = type.includes('json')
        ? (JSON.parse(body.toString() || '{}') as Record<string, unknown>)
        : Object.fromEntries(new URLSearchParams(body.toString()));
      const expected = method === 'apps.connections.open' ? APP_TOKEN : BOT_TOKEN;
      const limit = limits.get(method);
      if (limit !== undefined && limit.times > 0) {
        limit.times -= 1;
        calls.push({ method, args, at: Date.now(), status: 429 });
        res.writeHead(429, { 'retry-after': String(limit.retryAfterS), 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
        return;
      }
      const refusal = refusals.find((r) => r.method === method && r.times > 0 && r.match(args));
      if (refusal !== undefined) refusal.times -= 1;
      const answer =
        auth !== `Bearer ${expected}` && args['token'] !== expected
          ? { ok: false, error: 'invalid_auth' }
          : refusal !== undefined
            ? { ok: false, error: refusal.error }
            : api(method, args);
      calls.push({ method, args, at: Date.now(), status: 200, result: answer });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
      return;
    }
    if (url.pathname.startsWith('/response/')) {
      const type = req.headers['content-type'] ?? '';
      const id = url.pathname.slice('/response/'.length);
      if (responses.filter((r) => r.id === id).length >= BLOCK_KIT.responseUrlUses) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('used_url');
        return;
      }
      responses.push({
        id,
        body: type.includes('json')
          ? (JSON.parse(body.toString() || '{}') as Record<string, unknown>)
          : Object.fromEntries(new URLSearchParams(body.toString())),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    if (url.pathname.startsWith('/upload/')) {
      const id = url.pathname.slice('/upload/'.length);
      const up = uploads.get(id);
      if (up === undefined) {
        res.writeHead(404).end();
        return;
      }
      uploads.set(id, { ...up, bytes: filePart(body, req.headers['content-type'] ?? '') });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${body.length}`);
      return;
    }
    if (url.pathname.startsWith('/files-pri/')) {
      const id = url.pathname.split('/')[2] ?? '';
      const f = files.get(id);
      if (auth !== `Bearer ${BOT_TOKEN}` || f === undefined) {
        // What Slack does without the token: a login page, not the bytes.
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in to Slack</html>');
        return;
      }
      res.writeHead(200, { 'content-type': f.mimetype, 'content-length': String(f.bytes.length) }).end(f.bytes);
      return;
    }
    res.writeHead(404).end();
  });

  const wss = new WebSocketServer({ server, path: '/link' });
  wss.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { envelope_id?: string };
      if (msg.envelope_id !== undefined) acks.get(msg.envelope_id)?.();
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { approximate_connection_time: 3600 } }));
    onSocket?.();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let envelopes = 0;

  const fake: FakeSlack = {
    apiUrl: `${origin}/api/`,
    origin,
    calls,
    uploads,
    messages,
    responses,
    views,
    specials,
    setChannels(ids) {
      channels = ids === undefined ? undefined : new Set(ids);
    },
    responseUrl: (id) => `${origin}/response/${id}`,
    addFile(file) {
      files.set(file.id, file);
      return fileObject(file);
    },
    rateLimit(method, times, retryAfterS) {
      limits.set(method, { times, retryAfterS });
    },
    refuse(method, times, error, match = () => true) {
      refusals.push({ method, times, error, match });
    },
    deleteMessage: (ts) => messages.delete(ts),
    callsOf: (method) => calls.filter((c) => c.method === method),
    async send(url, body, options) {
      const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
      const started = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': options.contentType,
          'x-slack-request-timestamp': String(timestamp),
          'x-slack-signature': options.signature ?? sign(options.secret, timestamp, body),
        },
        body,
      });
      const text = await res.text();
      return { status: res.status, ms: performance.now() - started, text };
    },
    async sendEnvelope(type, payload) {
      if (socket === undefined || socket.readyState !== WebSocket.OPEN) throw new Error('no Socket Mode connection');
      const envelopeId = `env-${++envelopes}`;
      const started = performance.now();
      const acked = new Promise<void>((resolve) => acks.set(envelopeId, resolve));
      socket.send(
        JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api' }),
      );
      await acked;
      return { ms: performance.now() - started };
    },
    async socketConnected() {
      if (socket?.readyState === WebSocket.OPEN) return;
      await new Promise<void>((resolve) => {
        onSocket = resolve;
      });
      // The client counts as connected once it has read `hello`.
      await new Promise((r) => setTimeout(r, 100));
    },
    async waitFor(condition, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

/** The file's bytes from a multipart upload (what WebClient sends), or the raw body. */
function filePart(body: Buffer, contentType: string): Buffer {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const marker = boundary?.[1] ?? boundary?.[2];
  if (marker === undefined) return body;
  const start = body.indexOf('\r\n\r\n') + 4;
  const end = body.indexOf(`\r\n--${marker}`, start);
  return body.subarray(start, end < 0 ? undefined : end);
}

/** A trigger_id as the payload builders issue it: stamped with the interaction's time, for the 3 s rule. */
export function triggerId(at = Date.now()): string {
  return `trig-${at}-${Math.random().toString(36).slice(2)}`;
}

/** Form-encoded slash command payload, as Slack sends it. */
export function slashCommand(
  command: string,
  text: string,
  options: { user?: string; channel?: string; trigger?: string; responseUrl?: string } = {},
) {
  return new URLSearchParams({
    token: 'legacy',
    team_id: 'T1',
    team_domain: 'test',
    channel_id: options.channel ?? 'C1',
    channel_name: 'video',
    user_id: options.user ?? 'U1',
    user_name: options.user ?? 'ada',
    command,
    text,
    api_app_id: 'A1',
    response_url: options.responseUrl ?? 'http://127.0.0.1:9/unused',
    trigger_id: options.trigger ?? triggerId(),
  }).toString();
}

/** Form-encoded interactive payload (`payload=<json>`). */
export function interactive(payload: object): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

const user = (id: string) => ({ id, name: id, username: id, team_id: 'T1' });

export function blockAction(
  actionId: string,
  value: string,
  message: { ts: string; channel: string; blocks?: unknown[] },
  userId = 'U1',
) {
  return {
    type: 'block_actions',
    team: { id: 'T1', domain: 'test' },
    user: user(userId),
    api_app_id: 'A1',
    token: 'legacy',
    trigger_id: triggerId(),
    container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
    channel: { id: message.channel, name: 'video' },
    message: { type: 'message', ts: message.ts, text: '', blocks: message.blocks ?? [] },
    response_url: 'http://127.0.0.1:9/unused',
    actions: [
      {
        type: 'button',
        action_id: actionId,
        block_id: 'b',
        value,
        text: { type: 'plain_text', text: 'x' },
        action_ts: '1',
      },
    ],
  };
}

export function messageAction(callbackId: string, message: Record<string, unknown>, userId = 'U1') {
  return {
    type: 'message_action',
    callback_id: callbackId,
    team: { id: 'T1', domain: 'test' },
    user: user(userId),
    channel: { id: 'C1', name: 'video' },
    token: 'legacy',
    action_ts: '1',
    message_ts: message['ts'],
    trigger_id: triggerId(),
    response_url: 'http://127.0.0.1:9/unused',
    message: { type: 'message', user: userId, text: '', ...message },
  };
}

export function viewSubmission(
  callbackId: string,
  privateMetadata: string,
  values: Record<string, Record<string, unknown>>,
  userId = 'U1',
  viewId = `V${Math.random().toString(36).slice(2)}`,
) {
  return {
    type: 'view_submission',
    team: { id: 'T1', domain: 'test' },
    user: user(userId),
    api_app_id: 'A1',
    token: 'legacy',
    trigger_id: triggerId(),
    view: {
      id: viewId,
      team_id: 'T1',
      type: 'modal',
      callback_id: callbackId,
      private_metadata: privateMetadata,
      blocks: [],
      state: { values },
      hash: 'h',
      app_id: 'A1',
      bot_id: 'BBOT',
      title: { type: 'plain_text', text: 't' },
      close: null,
      submit: null,
    },
  };
}
