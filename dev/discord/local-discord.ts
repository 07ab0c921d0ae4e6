import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  checkCommands,
  checkMessage,
  checkModal,
  type FieldError,
  invalidFormBody,
  type Mentions,
  resolveMentions,
} from './limits.ts';

/**
 * A local Discord: the REST routes under `/api/v10` that discord.js and the bot use, a CDN that serves attachments,
 * and a JSON gateway over WebSocket (HELLO, IDENTIFY → READY, heartbeat ACK, dispatches). The real discord.js client
 * connects to it unchanged (`rest.api` → `${url}/api`). It records every request, keeps messages in memory and can
 * inject faults: 429s with `retry_after`, expired interaction tokens (50027) and the upload limit (413, 40005).
 *
 * It is as strict as Discord where a bot can go wrong: bodies over the message, embed, component and modal limits
 * are answered 400 / 50035 (`limits.ts`); an edit that sends `attachments` keeps only the files listed there, so an
 * upload it does not list is dropped (API v10) and shows in `dropped`; who a message notifies is resolved from
 * `allowed_mentions` as Discord does and kept in `pings`.
 */

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly at: number;
  readonly status: number;
  readonly body: unknown;
  readonly files: { name: string; size: number; bytes: Uint8Array }[];
  /** Uploaded files the message did not keep (an edit whose `attachments` did not list them). */
  readonly dropped: string[];
}

/** A message write that notified someone: `@everyone`/`@here`, users or roles (ephemeral messages notify nobody). */
export interface Ping extends Mentions {
  messageId: string;
  at: number;
}

type Upload = { name: string; bytes: Uint8Array; contentType: string; index: number };

export interface StoredMessage {
  id: string;
  channelId: string;
  content: string;
  components: unknown[];
  embeds: unknown[];
  attachments: { id: string; filename: string; size: number; url: string; contentType: string }[];
  flags: number;
  interactionId: string | undefined;
  referenceId: string | undefined;
  deleted: boolean;
  edits: number;
  /** When the message was created and last edited (ms since epoch), to check the edit throttle. */
  createdAt: number;
  editedAt: number[];
}

interface InteractionState {
  id: string;
  token: string;
  type: number;
  channelId: string;
  dispatchedAt: number;
  answeredAt: number | undefined;
  callbackType: number | undefined;
  originalId: string | undefined;
  expired: boolean;
  sizeLimit: number;
  payload: Record<string, unknown>;
  autocomplete: unknown[] | undefined;
}

export interface FakeUser {
  id: string;
  username: string;
  /** Permission bitfield as a decimal string; defaults to Send Messages only. */
  permissions?: string;
}

interface Fault {
  /** `body` is the request's JSON (`payload_json` of a multipart upload), e.g. to fail only a result's edit. */
  match: (method: string, path: string, body: Record<string, unknown>) => boolean;
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  times: number;
}

export const GUILD_ID = '900000000000000001';
export const CHANNEL_ID = '900000000000000002';
/** The guild's owner; nobody in the tests is, so Discord's owner bypass never hides an overwrite. */
const OWNER_ID = '700000000000000999';
/** @everyone's permissions (View Channel, Send Messages, Read Message History); its role id is the guild's. */
const EVERYONE_PERMISSIONS = String(1024n | 2048n | 65536n);

/** A channel permission overwrite as Discord sends it: type 0 for a role (the guild id is @everyone), 1 a member. */
export interface Overwrite {
  id: string;
  type: 0 | 1;
  allow: string;
  deny: string;
}
const DEFAULT_LIMIT = 10 * 1024 * 1024;

export interface LocalDiscordOptions {
  token: string;
  applicationId: string;
  heartbeatIntervalMs?: number;
}

export type LocalDiscord = Awaited<ReturnType<typeof startLocalDiscord>>;

export async function startLocalDiscord(options: LocalDiscordOptions) {
  const { token, applicationId } = options;
  const requests: RecordedRequest[] = [];
  const messages = new Map<string, StoredMessage>();
  const interactions = new Map<string, InteractionState>();
  const byToken = new Map<string, InteractionState>();
  const files = new Map<string, { bytes: Uint8Array; contentType: string }>();
  const commands = new Map<string, unknown[]>();
  // Guild channels and the members seen so far: what the bot fetches to check a member's permission in a channel.
  const channels = new Map<string, { id: string; name: string; overwrites: Overwrite[] }>([
    [CHANNEL_ID, { id: CHANNEL_ID, name: 'videos', overwrites: [] }],
  ]);
  const members = new Map<string, FakeUser>();
  const faults: Fault[] = [];
  const pings: Ping[] = [];
  const sockets = new Set<WebSocket>();
  const identified = new Set<WebSocket>();
  const listeners = new Set<() => void>();
  let sequence = 0;
  let heartbeats = 0;
  let identifies = 0;
  let counter = 0n;
  let uploadLimit = DEFAULT_LIMIT;
  const botUser = {
    id: applicationId,
    username: 'pusa',
    discriminator: '0',
    global_name: null,
    avatar: null,
    bot: true,
  };
  const snowflake = () => {
    counter += 1n;
    return String(((BigInt(Date.now()) - 1420070400000n) << 22n) + counter);
  };
  const changed = () => {
    for (const listener of listeners) listener();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: String(error), code: 0 }));
    });
  });
  const wss = new WebSocketServer({ server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const toApiMessage = (m: StoredMessage) => ({
    id: m.id,
    type: m.referenceId === undefined ? 0 : 19,
    channel_id: m.channelId,
    guild_id: GUILD_ID,
    author: botUser,
    content: m.content,
    timestamp: new Date(m.createdAt).toISOString(),
    edited_timestamp: m.edits > 0 ? new Date(m.editedAt.at(-1) ?? m.createdAt).toISOString() : null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: m.attachments.map((a) => ({
      id: a.id,
      filename: a.filename,
      size: a.size,
      url: a.url,
      proxy_url: a.url,
      content_type: a.contentType,
    })),
    embeds: m.embeds,
    components: m.components,
    pinned: false,
    flags: m.flags,
    application_id: applicationId,
    ...(m.interactionId === undefined ? {} : { webhook_id: applicationId }),
    ...(m.referenceId === undefined
      ? {}
      : { message_reference: { message_id: m.referenceId, channel_id: m.channelId, guild_id: GUILD_ID } }),
  });

  async function readBody(req: IncomingMessage) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    const uploaded: Upload[] = [];
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://local/', {
        method: 'POST',
        headers: { 'content-type': type },
        body: raw,
      }).formData();
      let json: unknown = {};
      for (const [key, value] of form.entries()) {
        if (key === 'payload_json' && typeof value === 'string') json = JSON.parse(value);
        else if (typeof value !== 'string')
          uploaded.push({
            name: value.name,
            bytes: new Uint8Array(await value.arrayBuffer()),
            contentType: value.type || 'application/octet-stream',
            // `files[n]` is the upload that `attachments: [{ id: n }]` refers to.
            index: Number(/^files\[(\d+)\]$/.exec(key)?.[1] ?? uploaded.length),
          });
      }
      return { json: json as Record<string, unknown>, uploaded };
    }
    return { json: (raw.length > 0 ? JSON.parse(raw.toString('utf8')) : {}) as Record<string, unknown>, uploaded };
  }

  function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  /**
   * Applies a message body (content, components, embeds, attachments) to a stored message; returns the names of
   * uploads it dropped. API v10: when an edit sends `attachments`, the message keeps exactly the attachments listed
   * there, old ones by their id and new uploads by their index (`files[n]` ↔ `{ id: n }`); without it, old ones
   * stay and uploads are added. A new message keeps every upload.
   */
  function applyBody(message: StoredMessage, json: Record<string, unknown>, uploaded: Upload[], edit: boolean) {
    if (typeof json['content'] === 'string') message.content = json['content'];
    if (Array.isArray(json['components'])) message.components = json['components'];
    if (Array.isArray(json['embeds'])) message.embeds = json['embeds'];
    if (typeof json['flags'] === 'number') message.flags = json['flags'];
    const listed = Array.isArray(json['attachments'])
      ? new Set((json['attachments'] as { id?: unknown }[]).map((k) => String(k.id)))
      : undefined;
    const kept = listed === undefined ? message.attachments : message.attachments.filter((a) => listed.has(a.id));
    const added = !edit || listed === undefined ? uploaded : uploaded.filter((f) => listed.has(String(f.index)));
    const dropped = uploaded.filter((f) => !added.includes(f)).map((f) => f.name);
    // Only a write that sets the content resolves mentions again.
    const mentions =
      typeof json['content'] === 'string' ? resolveMentions(json['content'], json['allowed_mentions']) : undefined;
    if (
      mentions !== undefined &&
      (message.flags & 64) === 0 &&
      (mentions.everyone || mentions.users.length > 0 || mentions.roles.length > 0)
    )
      pings.push({ messageId: message.id, at: Date.now(), ...mentions });
    message.attachments = [
      ...kept,
      ...added.map((file) => {
        const id = snowflake();
        const path = `attachments/${message.channelId}/${id}/${file.name}`;
        files.set(path, { bytes: file.bytes, contentType: file.contentType });
        return {
          id,
          filename: file.name,
          size: file.bytes.length,
          url: `${url}/cdn/${path}`,
          contentType: file.contentType,
        };
      }),
    ];
    return dropped;
  }

  function newMessage(channelId: string, extra: Partial<StoredMessage> = {}): StoredMessage {
    const message: StoredMessage = {
      id: snowflake(),
      channelId,
      content: '',
      components: [],
      embeds: [],
      attachments: [],
      flags: 0,
      interactionId: undefined,
      referenceId: undefined,
      deleted: false,
      edits: 0,
      createdAt: Date.now(),
      editedAt: [],
      ...extra,
    };
    messages.set(message.id, message);
    return message;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const parsed = new URL(req.url ?? '/', url);
    const path = decodeURIComponent(parsed.pathname);
    const method = req.method ?? 'GET';

    if (method === 'GET' && path.startsWith('/cdn/')) {
      const file = files.get(decodeURIComponent(path.slice('/cdn/'.length)));
      if (file === undefined) return send(res, 404, { message: 'Not Found' });
      res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.bytes.length) });
      res.end(file.bytes);
      return;
    }

    const { json, uploaded } = await readBody(req);
    let dropped: string[] = [];
    const record = (status: number) =>
      requests.push({
        method,
        path,
        at: Date.now(),
        status,
        body: json,
        files: uploaded.map((f) => ({ name: f.name, size: f.bytes.length, bytes: f.bytes })),
        dropped,
      });
    const reply = (status: number, body?: unknown, headers?: Record<string, string>) => {
      record(status);
      send(res, status, body, headers);
      changed();
    };
    if (!path.startsWith('/api/v10/')) return reply(404, { message: 'Not Found', code: 0 });
    const route = path.slice('/api/v10'.length);

    const fault = faults.find((f) => f.times > 0 && f.match(method, route, json));
    if (fault !== undefined) {
      fault.times -= 1;
      return reply(fault.status, fault.body, fault.headers);
    }

    const webhook = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/.exec(route);
    const callback = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route);
    const authorized = req.headers.authorization === `Bot ${token}`;
    if (webhook === null && callback === null && !authorized)
      return reply(401, { message: '401: Unauthorized', code: 0 });
    const tooLarge = (limit: number) => uploaded.some((f) => f.bytes.length > limit);
    const invalid = (errors: FieldError[]) => (errors.length === 0 ? undefined : invalidFormBody(errors));
    // "Cannot send an empty message": a new message needs content, an embed, a component or a file.
    const empty = (body: Record<string, unknown>) =>
      !body['content'] &&
      !(Array.isArray(body['embeds']) && body['embeds'].length > 0) &&
      !(Array.isArray(body['components']) && body['components'].length > 0) &&
      uploaded.length === 0;

    // Gateway and application.
    if (method === 'GET' && route === '/gateway/bot')
      return reply(200, {
        url: `ws://127.0.0.1:${port}`,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
      });
    if (method === 'GET' && route === '/users/@me') return reply(200, botUser);
    // The guild, its members and channels: enough for discord.js to compute permissionsFor(member).
    const guildRoute = /^\/guilds\/(\d+)(?:\/members\/(\d+))?$/.exec(route);
    if (guildRoute !== null && method === 'GET') {
      if (guildRoute[1] !== GUILD_ID) return reply(404, { message: 'Unknown Guild', code: 10004 });
      if (guildRoute[2] === undefined)
        return reply(200, {
          id: GUILD_ID,
          name: 'pusa test',
          icon: null,
          owner_id: OWNER_ID,
          features: [],
          emojis: [],
          stickers: [],
          roles: [
            {
              id: GUILD_ID,
              name: '@everyone',
              color: 0,
              hoist: false,
              position: 0,
              permissions: EVERYONE_PERMISSIONS,
              managed: false,
              mentionable: false,
              flags: 0,
            },
          ],
          preferred_locale: 'en-US',
          verification_level: 0,
          explicit_content_filter: 0,
          mfa_level: 0,
          nsfw_level: 0,
          premium_tier: 0,
        });
      const member = members.get(guildRoute[2]);
      if (member === undefined) return reply(404, { message: 'Unknown Member', code: 10007 });
      return reply(200, {
        user: { id: member.id, username: member.username, discriminator: '0', global_name: null, avatar: null },
        roles: [],
        joined_at: new Date(0).toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      });
    }
    const channelRoute = /^\/channels\/(\d+)$/.exec(route);
    if (channelRoute !== null && method === 'GET') {
      const found = channels.get(channelRoute[1] ?? '');
      if (found === undefined) return reply(404, { message: 'Unknown Channel', code: 10003 });
      return reply(200, {
        id: found.id,
        type: 0,
        guild_id: GUILD_ID,
        name: found.name,
        position: 0,
        permission_overwrites: found.overwrites,
        nsfw: false,
        parent_id: null,
      });
    }
    const commandsRoute = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(route);
    if (commandsRoute !== null && method === 'PUT') {
      const refused = invalid(checkCommands(json));
      if (refused !== undefined) return reply(400, refused);
      const list = (json as unknown as Record<string, unknown>[]).map((c) => ({
        ...c,
        id: snowflake(),
        application_id: applicationId,
        version: snowflake(),
      }));
      commands.set(commandsRoute[2] ?? 'global', list);
      return reply(200, list);
    }

    // Interaction callbacks.
    if (callback !== null) {
      const interaction = interactions.get(callback[1] ?? '');
      if (interaction === undefined || interaction.token !== callback[2])
        return reply(404, { message: 'Unknown interaction', code: 10062 });
      if (interaction.answeredAt !== undefined)
        return reply(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
      if (Date.now() - interaction.dispatchedAt > 3000)
        return reply(404, { message: 'Unknown interaction', code: 10062 });
      if (tooLarge(interaction.sizeLimit)) return reply(413, { message: 'Request entity too large', code: 40005 });
      const type = Number(json['type']);
      const data = (json['data'] ?? {}) as Record<string, unknown>;
      const refused =
        type === 4 || type === 7
          ? invalid(checkMessage(data).map((e) => ({ ...e, path: ['data', ...e.path] })))
          : type === 9
            ? invalid(checkModal(data))
            : undefined;
      if (refused !== undefined) return reply(400, refused);
      if (type === 4 && empty(data)) return reply(400, { message: 'Cannot send an empty message', code: 50006 });
      interaction.answeredAt = Date.now();
      interaction.callbackType = type;
      let message: StoredMessage | undefined;
      if (type === 4 || type === 5) {
        message = newMessage(interaction.channelId, {
          interactionId: interaction.id,
          flags: Number(data['flags'] ?? 0),
        });
        if (type === 4) dropped = applyBody(message, data, uploaded, false);
        interaction.originalId = message.id;
      } else if (type === 7 || type === 6) {
        const target = (interaction.payload['message'] as { id?: string } | undefined)?.id;
        message = target === undefined ? undefined : messages.get(target);
        if (message !== undefined && type === 7) {
          dropped = applyBody(message, data, uploaded, true);
          message.edits += 1;
          message.editedAt.push(Date.now());
        }
      } else if (type === 8) {
        interaction.autocomplete = (data['choices'] as unknown[] | undefined) ?? [];
      }
      if (parsed.searchParams.get('with_response') === 'true')
        return reply(200, {
          interaction: { id: interaction.id, type: interaction.type },
          resource: { type, ...(message === undefined ? {} : { message: toApiMessage(message) }) },
        });
      return reply(204);
    }

    // Interaction webhooks: follow-ups and edits of the original response.
    if (webhook !== null) {
      const interaction = byToken.get(webhook[2] ?? '');
      if (interaction === undefined || webhook[1] !== applicationId)
        return reply(404, { message: 'Unknown Webhook', code: 10015 });
      if (interaction.expired) return reply(401, { message: 'Invalid Webhook Token', code: 50027 });
      if (tooLarge(interaction.sizeLimit)) return reply(413, { message: 'Request entity too large', code: 40005 });
      const target = webhook[3] === '@original' ? interaction.originalId : webhook[3];
      const refused = method === 'POST' || method === 'PATCH' ? invalid(checkMessage(json)) : undefined;
      if (refused !== undefined) return reply(400, refused);
      if (webhook[3] === undefined && method === 'POST') {
        if (empty(json)) return reply(400, { message: 'Cannot send an empty message', code: 50006 });
        const message = newMessage(interaction.channelId, {
          interactionId: interaction.id,
          flags: Number(json['flags'] ?? 0),
        });
        dropped = applyBody(message, json, uploaded, false);
        return reply(200, toApiMessage(message));
      }
      const message = target === undefined ? undefined : messages.get(target);
      if (message === undefined || message.deleted) return reply(404, { message: 'Unknown Message', code: 10008 });
      if (method === 'GET') return reply(200, toApiMessage(message));
      if (method === 'PATCH') {
        dropped = applyBody(message, json, uploaded, true);
        message.edits += 1;
        message.editedAt.push(Date.now());
        return reply(200, toApiMessage(message));
      }
      if (method === 'DELETE') {
        message.deleted = true;
        return reply(204);
      }
    }

    // The bot's own channel messages.
    const channel = /^\/channels\/(\d+)\/messages(?:\/(\d+))?$/.exec(route);
    if (channel !== null) {
      const channelId = channel[1] ?? '';
      if (tooLarge(uploadLimit)) return reply(413, { message: 'Request entity too large', code: 40005 });
      const refused = method === 'POST' || method === 'PATCH' ? invalid(checkMessage(json)) : undefined;
      if (refused !== undefined) return reply(400, refused);
      if (channel[2] === undefined && method === 'POST') {
        if (empty(json)) return reply(400, { message: 'Cannot send an empty message', code: 50006 });
        const reference = (json['message_reference'] as { message_id?: string } | undefined)?.message_id;
        const message = newMessage(channelId, { referenceId: reference });
        dropped = applyBody(message, json, uploaded, false);
        return reply(200, toApiMessage(message));
      }
      const message = messages.get(channel[2] ?? '');
      if (message === undefined || message.deleted || message.channelId !== channelId)
        return reply(404, { message: 'Unknown Message', code: 10008 });
      if ((message.flags & 64) !== 0) return reply(404, { message: 'Unknown Message', code: 10008 });
      if (method === 'GET') return reply(200, toApiMessage(message));
      if (method === 'PATCH') {
        dropped = applyBody(message, json, uploaded, true);
        message.edits += 1;
        message.editedAt.push(Date.now());
        return reply(200, toApiMessage(message));
      }
      if (method === 'DELETE') {
        message.deleted = true;
        return reply(204);
      }
    }
    if (method === 'POST' && route === '/users/@me/channels')
      return reply(200, { id: `dm${String(json['recipient_id'])}`, type: 1 });
    return reply(404, { message: `no route ${method} ${route}`, code: 0 });
  }

  // Gateway: plain JSON, no compression.
  const sendOp = (socket: WebSocket, payload: Record<string, unknown>) => socket.send(JSON.stringify(payload));
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      identified.delete(socket);
    });
    sendOp(socket, { op: 10, d: { heartbeat_interval: options.heartbeatIntervalMs ?? 5000 }, s: null, t: null });
    socket.on('message', (raw) => {
      const payload = JSON.parse(String(raw)) as { op: number; d: unknown };
      if (payload.op === 1) {
        heartbeats += 1;
        return sendOp(socket, { op: 11, d: null, s: null, t: null });
      }
      if (payload.op === 2) {
        const identify = payload.d as { token?: string };
        if (identify.token !== token && identify.token !== `Bot ${token}`) {
          socket.close(4004, 'Authentication failed.');
          return;
        }
        identified.add(socket);
        identifies += 1;
        sequence += 1;
        sendOp(socket, {
          op: 0,
          t: 'READY',
          s: sequence,
          d: {
            v: 10,
            user: botUser,
            guilds: [],
            session_id: randomBytes(8).toString('hex'),
            resume_gateway_url: `ws://127.0.0.1:${port}`,
            shard: [0, 1],
            application: { id: applicationId, flags: 0 },
          },
        });
        changed();
      }
    });
  });

  function dispatch(t: string, d: unknown) {
    sequence += 1;
    for (const socket of identified) sendOp(socket, { op: 0, t, s: sequence, d });
  }

  /** The interaction payload around `data`: guild, channel, member with permissions, size limit. */
  function interact(
    type: number,
    data: Record<string, unknown>,
    options: { user: FakeUser; message?: StoredMessage; sizeLimit?: number; channelId?: string },
  ) {
    const id = snowflake();
    const interactionToken = `itok-${randomBytes(12).toString('hex')}`;
    const channelId = options.channelId ?? CHANNEL_ID;
    const sizeLimit = options.sizeLimit ?? DEFAULT_LIMIT;
    members.set(options.user.id, options.user);
    const user = {
      id: options.user.id,
      username: options.user.username,
      discriminator: '0',
      global_name: null,
      avatar: null,
    };
    const payload: Record<string, unknown> = {
      id,
      application_id: applicationId,
      type,
      token: interactionToken,
      version: 1,
      guild_id: GUILD_ID,
      channel_id: channelId,
      channel: { id: channelId, type: 0, guild_id: GUILD_ID, name: channels.get(channelId)?.name ?? 'videos' },
      member: {
        user,
        roles: [],
        permissions: options.user.permissions ?? '2048',
        joined_at: new Date(0).toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      app_permissions: '2147483647',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': GUILD_ID },
      context: 0,
      attachment_size_limit: sizeLimit,
      data,
      ...(options.message === undefined ? {} : { message: toApiMessage(options.message) }),
    };
    const state: InteractionState = {
      id,
      token: interactionToken,
      type,
      channelId,
      dispatchedAt: Date.now(),
      answeredAt: undefined,
      callbackType: undefined,
      originalId: undefined,
      expired: false,
      sizeLimit,
      payload,
      autocomplete: undefined,
    };
    interactions.set(id, state);
    byToken.set(interactionToken, state);
    dispatch('INTERACTION_CREATE', payload);
    return state;
  }

  async function waitFor<TValue>(
    probe: () => TValue | undefined | null | false | 0 | '',
    what: string,
    timeoutMs = 60_000,
  ): Promise<NonNullable<TValue>> {
    const first = probe();
    if (first) return first;
    return await new Promise<NonNullable<TValue>>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value) {
          cleanup();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(check, 100);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        listeners.delete(check);
      };
      listeners.add(check);
    });
  }

  return {
    url,
    apiUrl: `${url}/api`,
    requests,
    messages,
    interactions,
    /** Every message write that notified someone, in order. */
    pings,
    commands,
    /** Serves a file on the local CDN; returns its URL. */
    serveFile(name: string, bytes: Uint8Array, contentType: string) {
      const path = `attachments/${CHANNEL_ID}/${snowflake()}/${name}`;
      files.set(path, { bytes, contentType });
      return `${url}/cdn/${path}`;
    },
    /** The bytes of an uploaded attachment. */
    file(attachmentUrl: string) {
      return files.get(decodeURIComponent(attachmentUrl.replace(`${url}/cdn/`, '')))?.bytes;
    },
    /** Answers the next `times` requests matching `match` with `status`/`body` instead of handling them. */
    fail(
      match: Fault['match'],
      status: number,
      body: Record<string, unknown>,
      headers?: Record<string, string>,
      times = 1,
    ) {
      faults.push({ match, status, body, ...(headers === undefined ? {} : { headers }), times });
    },
    /** Rate-limits the next matching request: 429 with `retry_after` (seconds). */
    rateLimit(match: Fault['match'], retryAfterSeconds = 0.25, times = 1) {
      faults.push({
        match,
        status: 429,
        body: { message: 'You are being rate limited.', retry_after: retryAfterSeconds, global: false },
        headers: { 'retry-after': String(retryAfterSeconds), 'x-ratelimit-scope': 'user' },
        times,
      });
    },
    /** Every interaction token issued so far stops working, as after 15 minutes (50027). */
    expireTokens() {
      for (const interaction of interactions.values()) interaction.expired = true;
    },
    setUploadLimit(bytes: number) {
      uploadLimit = bytes;
    },
    identifiedCount: () => identified.size,
    /** Heartbeats answered and IDENTIFYs accepted so far (a missed ACK would show as a reconnect). */
    gatewayStats: () => ({ heartbeats, identifies }),
    interact,
    /** Adds a guild channel, with permission overwrites (e.g. @everyone denied View Channel). */
    addChannel(id: string, name: string, overwrites: Overwrite[] = []) {
      channels.set(id, { id, name, overwrites });
    },
    slash(
      name: string,
      options: unknown[],
      user: FakeUser,
      extra: { resolved?: unknown; sizeLimit?: number; channelId?: string } = {},
    ) {
      return interact(
        2,
        {
          id: snowflake(),
          name,
          type: 1,
          options,
          ...(extra.resolved === undefined ? {} : { resolved: extra.resolved }),
        },
        {
          user,
          ...(extra.sizeLimit === undefined ? {} : { sizeLimit: extra.sizeLimit }),
          ...(extra.channelId === undefined ? {} : { channelId: extra.channelId }),
        },
      );
    },
    contextMenu(name: string, target: StoredMessage | Record<string, unknown>, user: FakeUser) {
      const api = 'edits' in target ? toApiMessage(target as StoredMessage) : target;
      const targetId = String(api['id']);
      return interact(
        2,
        { id: snowflake(), name, type: 3, target_id: targetId, resolved: { messages: { [targetId]: api } } },
        { user },
      );
    },
    autocomplete(name: string, options: unknown[], user: FakeUser) {
      return interact(4, { id: snowflake(), name, type: 1, options }, { user });
    },
    /** A press of `customId` on `message` (any id: Discord lets a client send a forged one), in its channel. */
    button(message: StoredMessage, customId: string, user: FakeUser, channelId = message.channelId) {
      return interact(3, { custom_id: customId, component_type: 2 }, { user, message, channelId });
    },
    modalSubmit(customId: string, fields: Record<string, string>, user: FakeUser, message?: StoredMessage) {
      return interact(
        5,
        {
          custom_id: customId,
          components: Object.entries(fields).map(([id, value]) => ({
            type: 1,
            components: [{ type: 4, custom_id: id, value }],
          })),
        },
        { user, ...(message === undefined ? {} : { message }) },
      );
    },
    /** A user-authored message (e.g. an image post for "Animate this image"), not stored as a bot message. */
    userMessage(user: FakeUser, attachment: { filename: string; url: string; contentType: string; size: number }) {
      return {
        id: snowflake(),
        type: 0,
        channel_id: CHANNEL_ID,
        author: { id: user.id, username: user.username, discriminator: '0', global_name: null, avatar: null },
        content: '',
        timestamp: new Date().toISOString(),
        edited_timestamp: null,
        tts: false,
        mention_everyone: false,
        mentions: [],
        mention_roles: [],
        attachments: [
          {
            id: snowflake(),
            filename: attachment.filename,
            size: attachment.size,
            url: attachment.url,
            proxy_url: attachment.url,
            content_type: attachment.contentType,
          },
        ],
        embeds: [],
        components: [],
        pinned: false,
        flags: 0,
      };
    },
    waitFor,
    /** The message of an interaction's original response. */
    original(interaction: InteractionState) {
      return interaction.originalId === undefined ? undefined : messages.get(interaction.originalId);
    },
    close: async () => {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
