import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bot, composeBot } from '../../bot/compose.ts';
import { createHub } from '../../bot/core/hub.ts';
import { localServiceConfig, type Service } from '../../bot/service.ts';
import { startPlayground } from '../../bot/web/server.ts';
import { createSessions, networkOf } from '../../bot/web/sessions.ts';
import { startWorker, type WorkerProcess } from '../../scripts/worker-pool.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = 'sessions-test-admin-token';
// A playground beyond loopback is what this file is about: bind to one of this machine's own non-loopback IPv4s.
const HOST = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
if (HOST === undefined)
  console.warn('test/web/sessions.test.ts skipped: this machine has no non-loopback IPv4 address to bind to');

let dir: string;
let bot: Bot;
let service: Service;
let playground: Awaited<ReturnType<typeof startPlayground>>;
let worker: WorkerProcess;

beforeAll(async () => {
  if (HOST === undefined) return;
  dir = await mkdtemp(join(tmpdir(), 'pusa-sessions-'));
  const prefix = `sessions-${process.pid}-${Date.now()}`;
  // Every test opens its own sessions from this one address; the cap has a test of its own.
  bot = await composeBot({
    service: localServiceConfig({ redisUrl: REDIS_URL, prefix, dir, modelDir: PACK_DIR }),
    playground: {
      host: HOST,
      port: 0,
      adminToken: ADMIN_TOKEN,
      maxNewSessionsPerIpPerHour: 100,
    },
  });
  service = bot.service;
  playground = bot.playground!;
  worker = await startWorker('sessions-worker', {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    MODEL_DIR: PACK_DIR,
    LOG_LEVEL: 'warn',
  });
}, 120_000);

afterAll(async () => {
  worker?.child.kill('SIGKILL');
  await service?.generate.obliterate({ force: true }).catch(() => undefined);
  await bot?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** A browser's session: the cookie GET /api/session set, sent back on every request. */
async function openSession(url = playground.url): Promise<string> {
  const res = await fetch(`${url}/api/session`);
  const cookie = res.headers.getSetCookie()[0];
  expect(res.status).toBe(200);
  expect(cookie).toMatch(/^pusa_session=[^;]+; .*HttpOnly; SameSite=Strict/);
  return (cookie as string).split(';')[0] as string;
}

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${playground.url}${path}`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.arrayBuffer() };
}

async function post(path: string, cookie: string | undefined, body: unknown) {
  const res = await fetch(`${playground.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-csrf-token': playground.csrfToken,
      ...(cookie === undefined ? {} : { cookie }),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, ...((await res.json()) as { ok: boolean; error?: string; jobId?: string }) };
}

const me = async (cookie: string, query = '') => {
  const res = await fetch(`${playground.url}/api/me${query}`, { headers: { cookie } });
  return { status: res.status, ...((await res.json()) as { cards?: { jobId: string }[]; error?: string }) };
};

/**
 * The session's event stream, resolved with the first delivery for `jobId` (waits on the event, not a clock);
 * `seen` lists the job of every event the stream carried, in order.
 */
function deliveryFor(cookie: string, jobId: () => string | undefined, path = '/api/events') {
  const seen: string[] = [];
  const { hostname, port } = new URL(playground.url);
  let opened: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const delivered = new Promise<{ kind: string; url?: string }>((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { cookie } }, (res: IncomingMessage) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes(': connected')) opened();
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const event = /^event: \w+\ndata: (.*)$/s.exec(block)?.[1];
          if (event !== undefined) seen.push((JSON.parse(event) as { jobId: string }).jobId);
          const data = /^event: delivery\ndata: (.*)$/s.exec(block)?.[1];
          const parsed = data === undefined ? undefined : (JSON.parse(data) as { jobId: string; kind: string });
          if (parsed !== undefined && parsed.jobId === jobId()) {
            req.destroy();
            resolve(parsed);
          }
        }
      });
    });
    req.on('error', (error) => (error.message === 'socket hang up' ? undefined : reject(error)));
    req.end();
  });
  return { ready, delivered, seen };
}

describe.skipIf(HOST === undefined)('a playground beyond loopback: identity comes from the session', () => {
  it('ignores ?user=: alice cannot read bob history, and a request with no session is refused', async () => {
    const alice = await openSession();
    const bob = await openSession();
    await service.generate.pause();
    try {
      const submitted = await post('/api/command?user=bob', bob, { text: '/t2v a red circle --steps 2 --frames 17' });

      const aliceAsBob = await me(alice, '?user=bob');
      const bobOwn = await me(bob);
      const anonymous = await get('/api/me?user=bob');
      const anonymousCommand = await post('/api/command?user=bob', undefined, { text: '/history' });

      expect(submitted).toMatchObject({ ok: true });
      expect(bobOwn.cards?.map((c) => c.jobId)).toEqual([submitted.jobId]);
      expect(aliceAsBob.cards).toEqual([]);
      expect(anonymous.status).toBe(401);
      expect(anonymousCommand).toMatchObject({ status: 401, error: expect.stringMatching(/no playground session/) });
      await post('/api/action', bob, { action: 'cancel', jobId: submitted.jobId });
    } finally {
      await service.generate.resume();
    }
  });

  it('refuses a cookie the server did not sign', async () => {
    const forged = 'pusa_session=made-up-id.bm90LWEtc2lnbmF0dXJl';

    const answer = await me(forged);

    expect(answer).toMatchObject({ status: 401, error: expect.stringMatching(/no playground session/) });
  });

  it('lets alice neither cancel bob queued job (by button or /cancel) while bob can', async () => {
    const alice = await openSession();
    const bob = await openSession();
    await service.generate.pause();
    try {
      const submitted = await post('/api/command', bob, { text: '/t2v a blue square --steps 2 --frames 17' });
      const jobId = submitted.jobId as string;

      const byButton = await post('/api/action?user=bob', alice, { action: 'cancel', jobId });
      const byCommand = await post('/api/command?user=bob', alice, { text: `/cancel ${jobId}` });
      const stillQueued = (await service.store.job(jobId))?.status;
      const byOwner = await post('/api/action', bob, { action: 'cancel', jobId });

      expect(byButton).toMatchObject({ ok: false, error: expect.stringMatching(/not found among your requests/) });
      expect(byCommand).toMatchObject({ ok: false });
      expect(stillQueued).toBe('queued');
      expect(byOwner).toMatchObject({ ok: true });
      expect((await service.store.job(jobId))?.status).toBe('cancelled');
    } finally {
      await service.generate.resume();
    }
  });

  it('sends bob events and clip to bob session only (the clip also to the operator); alice and strangers get 404', {
    timeout: 180_000,
  }, async () => {
    const alice = await openSession();
    const bob = await openSession();
    let jobId: string | undefined;
    const stream = deliveryFor(bob, () => jobId);
    await stream.ready;

    const submitted = await post('/api/command', bob, { text: '/t2v a yellow star moves up --steps 2 --frames 17' });
    jobId = submitted.jobId;
    const delivery = await stream.delivered;
    const url = delivery.url as string;

    const asBob = await get(url, { cookie: bob });
    const asAlice = await get(url, { cookie: alice });
    const asAliceNamingBob = await get(`${url}?user=bob`, { cookie: alice });
    const asStranger = await get(url);
    const asOperator = await get(url, { authorization: `Bearer ${ADMIN_TOKEN}` });
    // Alice's stream, opened naming bob, then her own job: one socket keeps order, so had bob's events reached it
    // they would stand before hers.
    let aliceJob: string | undefined;
    const aliceStream = deliveryFor(alice, () => aliceJob, '/api/events?user=bob');
    await aliceStream.ready;
    const bobAgain = await post('/api/command', bob, { text: '/t2v a blue square --steps 2 --frames 17' });
    aliceJob = (await post('/api/command', alice, { text: '/t2v a red circle --steps 2 --frames 17' })).jobId;
    await aliceStream.delivered;

    expect(delivery.kind).toBe('succeeded');
    expect(asBob).toMatchObject({ status: 200, type: 'video/mp4' });
    expect(asBob.body.byteLength).toBeGreaterThan(0);
    expect([asAlice.status, asAliceNamingBob.status, asStranger.status]).toEqual([404, 404, 404]);
    expect(asOperator).toMatchObject({ status: 200, type: 'video/mp4' });
    expect(bobAgain).toMatchObject({ ok: true });
    expect(new Set(aliceStream.seen)).toEqual(new Set([aliceJob]));
  });

  it('bounds how many addresses it counts: past the bound a new address gets 429 with Retry-After, not memory', async () => {
    // On 0.0.0.0 (beyond loopback, so sessions apply) a client can come from any 127.0.0.0/8 address.
    const bounded = await startPlayground(service, createHub(), {
      host: '0.0.0.0',
      port: 0,
      adminToken: ADMIN_TOKEN,
      maxNewSessionsPerIpPerHour: 5,
      maxSessionAddresses: 2,
    });
    const port = Number(new URL(bounded.url).port);
    const sessionFrom = (localAddress: string) =>
      new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/session', localAddress }, (res: IncomingMessage) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: res.headers['retry-after'] as string | undefined,
              body,
            }),
          );
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const answers = [];
      for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.4'])
        answers.push(await sessionFrom(address));

      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect(Number(answers[3]?.retryAfter)).toBeGreaterThanOrEqual(60);
      expect(JSON.parse(answers[3]?.body ?? '{}')).toMatchObject({
        error: expect.stringMatching(
          /too many new playground sessions are being opened right now; try again in \d+ minutes/,
        ),
      });
    } finally {
      await bounded.close();
    }
  });

  it('caps new sessions per client address per hour, and an open session keeps working past the cap', async () => {
    const capped = await startPlayground(service, createHub(), {
      host: HOST as string,
      port: 0,
      adminToken: ADMIN_TOKEN,
      maxNewSessionsPerIpPerHour: 2,
    });
    try {
      const first = await openSession(capped.url);
      await openSession(capped.url);

      const third = await fetch(`${capped.url}/api/session`);
      const reused = await fetch(`${capped.url}/api/session`, { headers: { cookie: first } });

      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(third.headers.getSetCookie()).toEqual([]);
      expect(await third.json()).toMatchObject({ error: expect.stringMatching(/too many new playground sessions/) });
      expect(reused.status).toBe(200);
    } finally {
      await capped.close();
    }
  });
});

describe('the session counter', () => {
  it('counts an IPv6 /64 as one address, and an IPv4-mapped address as its IPv4', () => {
    const sessions = createSessions({ secret: ADMIN_TOKEN, maxNewPerIpPerHour: 2 });

    const rotating = ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:fffe', '2001:db8:1:2::abcd'].map(
      (a) => sessions.issue(a).ok,
    );
    const otherNetwork = sessions.issue('2001:db8:1:3::1').ok;
    const mapped = ['::ffff:192.0.2.7', '192.0.2.7', '::FFFF:192.0.2.7'].map((a) => sessions.issue(a).ok);

    expect(rotating).toEqual([true, true, false]);
    expect(otherNetwork).toBe(true);
    expect(mapped).toEqual([true, true, false]);
    expect(networkOf('2001:DB8:0:1::')).toBe('2001:db8:0:1::/64');
    expect(networkOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
