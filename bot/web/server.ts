import { randomBytes, timingSafeEqual } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import {
  type ChatCommand,
  type LongOptions,
  longAsk,
  parseChatCommand,
  parseStoredJobExtras,
  UserError,
} from '../../commands/index.ts';
import { classify } from '../core/errors.ts';
import type { Delivery, JobUpdate } from '../core/events.ts';
import type { SubmitInput } from '../core/front-end.ts';
import type { Hub } from '../core/hub.ts';
import type { Remade } from '../core/lookup.ts';
import { OUTAGE_RETRY_AFTER_SECONDS, QueueUnavailableError } from '../core/outage.ts';
import type { FrontDoor } from '../front-door.ts';
import { readBounded } from '../http-body.ts';
import { listen } from '../listen.ts';
import { createAdmin } from './admin.ts';
import { createSessions } from './sessions.ts';

/** Where the playground listens, and who may use its operator endpoints. */
export interface PlaygroundOptions {
  readonly host: string;
  readonly port: number;
  /** Required when `host` is not loopback; admin endpoints then demand it as a bearer token. */
  readonly adminToken?: string;
  /** Largest request body, bytes (images travel base64-encoded). */
  readonly maxBodyBytes?: number;
  /** Beyond loopback: new sessions one client address may open per hour (default 5). */
  readonly maxNewSessionsPerIpPerHour?: number;
  /** Beyond loopback: most client addresses the session counter holds at once (default 10 000; bounds its memory). */
  readonly maxSessionAddresses?: number;
  /** Where a failed request's cause goes (the operator's log; the user gets words safe to show). */
  readonly log?: { warn(o: object, m: string): void; error(o: object, m: string): void };
}

/** Who a request acts for: `key` is the user's externalId (and the key of their event streams), `name` is shown. */
interface Who {
  readonly key: string;
  readonly name: string;
}

const PUBLIC = new URL('./public/', import.meta.url).pathname;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
/**
 * The chart library the dashboard draws with, served from its npm package as published (node_modules, never a
 * copy in this repository), so the page needs nothing from outside the bot.
 */
const VENDOR = new Map([
  ['/vendor/uplot.js', 'uplot/dist/uPlot.iife.min.js'],
  ['/vendor/uplot.css', 'uplot/dist/uPlot.min.css'],
]);
const packageFile = createRequire(import.meta.url).resolve;
const WORKSPACE = { platform: 'local' as const, externalId: 'playground', name: 'playground' };
const isLoopback = (host: string) => host === '127.0.0.1' || host === '::1' || host === 'localhost';

/**
 * The local playground and operator dashboard: a third front end on the same core as Discord and Slack. A chat-like
 * page sends `/t2v …` commands and images; results, progress and previews come back over server-sent events.
 */
export async function startPlayground(service: FrontDoor, hub: Hub, options: PlaygroundOptions) {
  if (!isLoopback(options.host) && (options.adminToken === undefined || options.adminToken.length < 16)) {
    throw new Error(
      `the playground binds to ${options.host}, which is not loopback: set PLAYGROUND_ADMIN_TOKEN (16+ characters) first`,
    );
  }
  const maxBody = options.maxBodyBytes ?? 40 * 1024 * 1024;
  // One per server start: pages read it from /api/session and send it back on every POST.
  const csrfToken = randomBytes(32).toString('base64url');
  const streams = new Map<string, Set<ServerResponse>>();
  const owners = new Map<string, string>();
  // On loopback the page names its user (`?user=`, the local demo); beyond it only a signed session cookie does.
  const sessions = isLoopback(options.host)
    ? undefined
    : createSessions({
        secret: options.adminToken ?? '',
        maxNewPerIpPerHour: options.maxNewSessionsPerIpPerHour ?? 5,
        ...(options.maxSessionAddresses === undefined ? {} : { maxTrackedAddresses: options.maxSessionAddresses }),
      });

  const send = (user: string, event: string, data: unknown) => {
    for (const res of streams.get(user) ?? []) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  hub.register('local', {
    async deliver(delivery: Delivery) {
      const user = owners.get(delivery.jobId) ?? (await userOfJob(delivery.jobId));
      if (user !== undefined)
        send(
          user,
          'delivery',
          delivery.kind === 'succeeded'
            ? { ...delivery, mp4Absolute: undefined, url: `/clips/${delivery.clipId}.mp4` }
            : delivery,
        );
    },
    update(update: JobUpdate) {
      const user = owners.get(update.jobId);
      if (user === undefined) return;
      // A /long segment: the page plays it from the playground's own route, never from a path on the host.
      send(
        user,
        'update',
        update.kind === 'segment'
          ? { ...update, mp4Absolute: undefined, url: `/segments/${update.jobId}/${update.index}.mp4` }
          : update,
      );
    },
  });
  const userOfJob = async (jobId: string) => {
    const origin = (await service.frontEnd.postedAt(jobId))?.origin;
    const channel = origin?.platform === 'local' ? origin.channelId : undefined;
    return channel?.startsWith('playground:') ? channel.slice('playground:'.length) : undefined;
  };

  const submit = async (who: Who, request: SubmitInput['request'], key: string, derivedFrom?: string) => {
    const answer = await service.frontEnd.submit({
      requestKey: key,
      user: { platform: 'local', externalId: who.key, displayName: who.name },
      workspace: WORKSPACE,
      origin: { platform: 'local', channelId: `playground:${who.key}` },
      request,
      ...(derivedFrom === undefined ? {} : { derivedFrom }),
    });
    if (answer.ok) owners.set(answer.jobId, who.key);
    return answer;
  };

  async function command(
    user: Who,
    body: { text?: string; key?: string; images?: { name?: string; data: string; latentIndex?: number }[] },
  ) {
    const parsed = parseChatCommand(String(body.text ?? ''));
    if (!parsed.ok) return { ok: false, error: parsed.error.message };
    const cmd: ChatCommand = parsed.value;
    const ids = await identify(user);
    if (cmd.kind === 'help') return { ok: true, help: true };
    if (cmd.kind === 'quota') return { ok: true, quota: await service.frontEnd.quota(ids.userId, ids.workspaceId) };
    if (cmd.kind === 'history')
      return { ok: true, history: (await service.frontEnd.history(ids.userId, 10)).map(summary) };
    if (cmd.kind === 'cancel') return cancel(user, cmd.jobId);
    const images = (body.images ?? []).map((image) => ({
      bytes: Buffer.from(image.data, 'base64'),
      ...(image.name === undefined ? {} : { name: image.name }),
      ...(image.latentIndex === undefined ? {} : { latentIndex: image.latentIndex }),
    }));
    const answer = await submit(
      user,
      { task: cmd.task, prompt: cmd.prompt, images, clips: cmd.clipIds.map((clipId) => ({ clipId })), ...cmd.options },
      body.key ?? `pg:${user.key}:${Date.now()}:${Math.random()}`,
    );
    return answer.ok
      ? { ...answer }
      : { ok: false, error: answer.error.message, code: answer.error.code, requestId: answer.requestId };
  }

  /**
   * The /long form: a prompt or a storyboard (one prompt per line), how long, a start image and a seed, as the
   * core's `long()`; the chain's progress, segments and clip come back on the event stream like any job's.
   */
  async function long(
    user: Who,
    body: {
      text?: string;
      seconds?: number;
      segments?: number;
      seed?: number;
      steps?: number;
      frames?: number;
      guidance?: number;
      image?: { name?: string; data: string };
      key?: string;
    },
  ) {
    const numbers: LongOptions = {};
    for (const name of ['seconds', 'segments', 'seed', 'steps', 'frames', 'guidance'] as const) {
      const value = body[name];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'number' || !Number.isFinite(value))
        return { ok: false, error: `${name} must be a number`, code: 'InvalidOption' };
      numbers[name] = value;
    }
    const answer = await service.frontEnd.long({
      requestKey: body.key ?? `pg:${user.key}:long:${Date.now()}:${Math.random()}`,
      user: { platform: 'local', externalId: user.key, displayName: user.name },
      workspace: WORKSPACE,
      origin: { platform: 'local', channelId: `playground:${user.key}` },
      request: {
        ...longAsk(numbers, { storyboard: String(body.text ?? '') }),
        ...(body.image === undefined
          ? {}
          : {
              image: {
                bytes: Buffer.from(String(body.image.data ?? ''), 'base64'),
                ...(body.image.name === undefined ? {} : { name: String(body.image.name) }),
              },
            }),
      },
    });
    if (!answer.ok)
      return { ok: false, error: answer.error.message, code: answer.error.code, requestId: answer.requestId };
    owners.set(answer.jobId, user.key);
    return { ...answer };
  }

  /**
   * A card's buttons, each one call of the core: Info, Extend, Re-roll and Remix behind its access rule (the page's
   * conversation is its user's own), Cancel and Delete as the core decides them.
   */
  async function action(user: Who, body: { action?: string; jobId?: string; prompt?: string; key?: string }) {
    const ids = await identify(user);
    const by = { ...ids, channelId: `playground:${user.key}` };
    const jobId = body.jobId ?? '';
    const key = body.key ?? `pg:${user.key}:${body.action}:${jobId}:${Date.now()}`;
    const sent = async (remade: Remade) => {
      if (!remade.ok) return { ok: false, error: remade.error.message };
      const answer = await submit(user, remade.request, key, remade.derivedFrom);
      return answer.ok ? { ...answer } : { ok: false, error: answer.error.message };
    };
    switch (body.action) {
      case 'info': {
        const verdict = await service.frontEnd.info({ jobId }, by);
        return verdict.ok ? { ok: true, info: summary(verdict.job) } : { ok: false, error: verdict.error.message };
      }
      case 'cancel':
        return cancel(user, jobId);
      case 'delete': {
        const removed = await service.frontEnd.remove(jobId, { userId: ids.userId });
        if (!removed.ok) return { ok: false, error: removed.error.message };
        // Other tabs of the same user drop the card too.
        send(user.key, 'removed', { jobId });
        return { ok: true, deleted: jobId };
      }
      case 'extend': {
        const verdict = await service.frontEnd.authorize({ jobId }, by, 'derive');
        if (!verdict.ok) return { ok: false, error: verdict.error.message };
        if (verdict.job.clip === null) return { ok: false, error: 'only a finished clip can be extended' };
        return sent(await service.frontEnd.extendOf(verdict.job.clip.id, by, { prompt: body.prompt }));
      }
      case 'reroll':
        return sent(await service.frontEnd.remake({ jobId }, by, { kind: 'reroll' }));
      case 'remix':
        return sent(await service.frontEnd.remake({ jobId }, by, { kind: 'remix', prompt: body.prompt ?? '' }));
      default:
        return { ok: false, error: `unknown action ${body.action ?? ''}` };
    }
  }

  async function cancel(user: Who, jobId: string) {
    const ids = await identify(user);
    const result = await service.frontEnd.cancel(jobId, { userId: ids.userId });
    return result.ok ? { ok: true, cancelled: result.state } : { ok: false, error: result.error.message };
  }

  const identify = (who: Who) =>
    service.frontEnd.identify({
      user: { platform: 'local', externalId: who.key, displayName: who.name },
      workspace: WORKSPACE,
    });

  const admin = createAdmin(service.frontEnd.operator, () => service.frontEnd.identifyWorkspace(WORKSPACE));

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // The core decides what the page reads (bot/core/errors.ts); the database or the queue away is a 503 with
      // Retry-After (as the core's own "try again" refusals are); only what is not the user's to fix is logged.
      const verdict = classify(error);
      const away = verdict.kind === 'unavailable' || (verdict.kind === 'refused' && verdict.code === 'Unavailable');
      const cause = {
        path: req.url?.split('?')[0],
        errorId: verdict.errorId,
        err: (error as Error)?.message ?? String(error),
      };
      if (verdict.kind === 'unavailable')
        options.log?.warn(cause, 'playground request failed: database or queue unavailable');
      else if (verdict.kind === 'failed') options.log?.error(cause, 'playground request failed');
      if (res.headersSent) res.end();
      else if (away) unavailable(res, verdict.message);
      else
        json(res, verdict.kind === 'refused' ? 400 : 500, {
          ok: false,
          error: verdict.message,
          errorId: verdict.errorId,
        });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://playground');
    const path = url.pathname;
    // Beyond loopback this is only the name shown for the session's user; it never picks whose jobs are acted on.
    const named = sanitizeUser(url.searchParams.get('user') ?? String(req.headers['x-pusa-user'] ?? 'you'));
    const user: Who | undefined =
      sessions === undefined
        ? { key: named, name: named }
        : (() => {
            const key = sessions.verify(req.headers.cookie);
            return key === undefined ? undefined : { key, name: named };
          })();
    const noSession = () =>
      json(res, 401, {
        ok: false,
        error: 'no playground session: reload the page (scripts: GET /api/session and send its cookie back)',
      });
    if (req.method === 'GET' && (path === '/' || path === '/admin' || /^\/[a-z-]+\.(js|css)$/.test(path))) {
      const file = path === '/' ? 'index.html' : path === '/admin' ? 'admin.html' : path.slice(1);
      const body = await readFile(join(PUBLIC, file));
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
      return;
    }
    const vendored = req.method === 'GET' ? VENDOR.get(path) : undefined;
    if (vendored !== undefined) {
      const body = await readFile(packageFile(vendored));
      res.writeHead(200, {
        'content-type': TYPES[extname(vendored)] ?? 'application/octet-stream',
        'cache-control': 'public, max-age=86400',
      });
      res.end(body);
      return;
    }
    // Redis down: every API call but the session and the event stream needs it, and would wait for it to return.
    if (
      path.startsWith('/api/') &&
      path !== '/api/session' &&
      path !== '/api/events' &&
      !service.frontEnd.queueAvailable()
    )
      throw new QueueUnavailableError('Redis is not connected');
    if (req.method === 'GET' && path === '/api/events') {
      if (user === undefined) return noSession();
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(': connected\n\n');
      const set = streams.get(user.key) ?? new Set<ServerResponse>();
      set.add(res);
      streams.set(user.key, set);
      req.on('close', () => set.delete(res));
      return;
    }
    if (req.method === 'GET' && path === '/api/session') {
      if (sessions === undefined || user !== undefined) return json(res, 200, { csrfToken });
      const issued = sessions.issue(req.socket.remoteAddress ?? '');
      if (!issued.ok)
        return json(
          res,
          429,
          { ok: false, error: issued.message },
          { 'retry-after': String(issued.retryAfterSeconds) },
        );
      return json(res, 200, { csrfToken }, { 'set-cookie': issued.setCookie });
    }
    if (req.method === 'GET' && path === '/api/me') {
      if (user === undefined) return noSession();
      const ids = await identify(user);
      const recent = await service.frontEnd.recent(ids.userId, 20);
      json(res, 200, {
        user: user.name,
        quota: await service.frontEnd.quota(ids.userId, ids.workspaceId),
        history: recent.map(({ job }) => summary(job)),
        // Oldest first, as the channel shows them: what a reload redraws (video, progress, buttons).
        cards: recent.map(card).reverse(),
      });
      return;
    }
    const clip = /^\/clips\/([\w-]+)\.mp4$/.exec(path);
    if (req.method === 'GET' && clip !== null) {
      // Beyond loopback a clip goes to its owner's session or an operator; to anyone else it does not exist.
      const record =
        sessions === undefined || authorized(req)
          ? await service.frontEnd.clipFor(clip[1] as string, 'operator')
          : user === undefined
            ? null
            : await service.frontEnd.clipFor(clip[1] as string, { platform: 'local', externalId: user.key });
      if (record === null) return json(res, 404, { ok: false, error: 'no such clip' });
      return await serveMp4(res, service.artifacts.absolute(record.mp4Path));
    }
    const segment = /^\/segments\/([\w-]+)\/(\d{1,3})\.mp4$/.exec(path);
    if (req.method === 'GET' && segment !== null) {
      // A /long segment goes where its job's clip would: its owner's session, an operator, anyone on loopback.
      const jobId = segment[1] as string;
      const mine =
        sessions === undefined || authorized(req) || (user !== undefined && (await userOfJob(jobId)) === user.key);
      if (!mine) return json(res, 404, { ok: false, error: 'no such segment' });
      return await serveMp4(res, service.artifacts.absolute(service.artifacts.segmentPath(jobId, Number(segment[2]))));
    }
    if (req.method === 'POST' && path.startsWith('/api/')) {
      const refused = refuseForeign(req);
      if (refused !== undefined) return json(res, 403, { ok: false, error: refused });
      // Who may ask is settled before the body is read.
      if (path === '/api/command' || path === '/api/action' || path === '/api/long') {
        if (user === undefined) return noSession();
        const body = await readJson(req, maxBody);
        const answer = await (path === '/api/command' ? command : path === '/api/long' ? long : action)(
          user,
          body as never,
        );
        if ('code' in answer && answer.code === 'Unavailable') return unavailable(res, answer);
        return json(res, 200, answer);
      }
      if (path.startsWith('/api/admin/')) {
        if (!authorized(req)) return json(res, 401, { ok: false, error: 'admin token required' });
        const answer = await admin.act(path.slice('/api/admin/'.length), await readJson(req, maxBody));
        return json(res, answer.status, answer.body);
      }
    }
    if (req.method === 'GET' && path === '/api/admin/charts') {
      if (!authorized(req)) return json(res, 401, { ok: false, error: 'admin token required' });
      const answer = await admin.charts(url.searchParams.get('window') ?? undefined);
      return json(res, answer.status, answer.body);
    }
    if (req.method === 'GET' && path === '/api/admin/state') {
      if (!authorized(req)) return json(res, 401, { ok: false, error: 'admin token required' });
      const answer = await admin.state(url.searchParams.get('workspace') ?? undefined);
      return json(res, answer.status, answer.body);
    }
    json(res, 404, { ok: false, error: 'not found' });
  }

  const authorized = (req: IncomingMessage) =>
    options.adminToken === undefined || bearerMatches(req.headers.authorization, options.adminToken);

  /**
   * Why a state-changing request is refused, or undefined to let it through. The playground has no cookies, so the
   * danger is another web page (or a DNS-rebound name) making the browser POST here: the Host must name this
   * server when it listens on loopback, a browser's Origin and Sec-Fetch-Site must say same-origin, and the request
   * must carry this server's CSRF token (from GET /api/session, which other origins cannot read) or the admin token.
   */
  const refuseForeign = (req: IncomingMessage): string | undefined => {
    const host = String(req.headers.host ?? '');
    if (isLoopback(options.host) && !loopbackHosts().has(host.toLowerCase()))
      return `this playground answers only at ${loopbackHostsList()}; got Host ${host || '(none)'}`;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`)
      return `requests from ${origin} are not accepted; open the playground at its own address`;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return 'cross-site requests are not accepted; open the playground at its own address';
    const token = req.headers['x-csrf-token'];
    const tokenOk = typeof token === 'string' && safeEqual(token, csrfToken);
    const bearerOk = options.adminToken !== undefined && bearerMatches(req.headers.authorization, options.adminToken);
    if (!tokenOk && !bearerOk)
      return 'missing or stale CSRF token: reload the page (scripts: send x-csrf-token from GET /api/session)';
    return undefined;
  };
  let boundPort = options.port;
  const loopbackHosts = () =>
    new Set(['127.0.0.1', 'localhost', '[::1]'].map((name) => `${name}:${boundPort}`.toLowerCase()));
  const loopbackHostsList = () => [...loopbackHosts()].join(', ');

  // A busy port rejects here (EADDRINUSE) for the caller to explain, instead of an unhandled 'error' event.
  await listen(server, options.port, options.host);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  boundPort = port;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    /** What in-process callers (the scripted demo, tests) send as `x-csrf-token`. */
    csrfToken,
    async close() {
      for (const set of streams.values()) for (const res of set) res.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function summary(job: {
  id: string;
  task: string;
  status: string;
  parameters: unknown;
  createdAt: Date;
  chargedSeconds: number;
  error: { message: string } | null;
  clip: { id: string } | null;
}) {
  return {
    jobId: job.id,
    task: job.task,
    status: job.status,
    parameters: job.parameters,
    createdAt: job.createdAt,
    chargedSeconds: job.chargedSeconds,
    error: job.error?.message ?? null,
    url: job.clip === null ? null : `/clips/${job.clip.id}.mp4`,
  };
}

/** One job as the page draws it: the summary plus what its card shows while queued or running. */
function card(entry: {
  job: Parameters<typeof summary>[0] & { clip: { id: string; frames: number; seed: number } | null };
  progress?: { step: number; total: number; etaMs: number };
  position?: number;
  etaSeconds?: number;
}) {
  const { job } = entry;
  return {
    ...summary(job),
    requestId: parseStoredJobExtras(job.parameters).requestId ?? job.id,
    clipId: job.clip?.id ?? null,
    frames: job.clip?.frames ?? null,
    seed: job.clip?.seed ?? null,
    ...(entry.progress === undefined ? {} : { progress: entry.progress }),
    ...(entry.position === undefined ? {} : { position: entry.position, etaSeconds: entry.etaSeconds }),
  };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  return header !== undefined && safeEqual(header, `Bearer ${token}`);
}

/** Compares secrets in constant time, so response timing does not reveal how much of a guess was right. */
function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function sanitizeUser(name: string): string {
  const clean = name
    .trim()
    .slice(0, 32)
    .replace(/[^\w.-]/g, '');
  return clean === '' ? 'you' : clean;
}

/** 503 with Retry-After: the database or the queue is away for now (a submit refused for that, or any request). */
function unavailable(res: ServerResponse, body: string | object): void {
  json(res, 503, typeof body === 'string' ? { ok: false, code: 'Unavailable', error: body } : body, {
    'retry-after': String(OUTAGE_RETRY_AFTER_SECONDS),
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * An MP4 from the artifact store. Opened once and checked as opened: a file removed, or replaced by a directory,
 * after the record was written answers 410 instead of throwing EISDIR out of a stream with no listener (which took
 * the host down).
 */
async function serveMp4(res: ServerResponse, absolute: string): Promise<void> {
  const handle = await open(absolute, 'r').catch(() => undefined);
  const info = await handle?.stat().catch(() => undefined);
  if (handle === undefined || info === undefined || !info.isFile()) {
    await handle?.close().catch(() => undefined);
    return json(res, 410, { ok: false, error: 'this clip is no longer stored here' });
  }
  res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': info.size, 'accept-ranges': 'none' });
  const stream = handle.createReadStream();
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBounded(req, limit);
  if (body === undefined)
    throw new UserError(
      'InvalidInput',
      `the request is larger than ${Math.round(limit / 1024 / 1024)} MiB; send smaller images`,
    );
  try {
    return JSON.parse(body.toString('utf8') || '{}');
  } catch {
    throw new UserError('InvalidInput', 'the request body is not JSON');
  }
}
