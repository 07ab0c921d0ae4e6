import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { JobName } from '../../commands/index.ts';
import { startLocalRedis } from '../../scripts/local-redis.ts';
import { pgProxy } from '../helpers/pg-proxy.ts';
import { createTestDatabase, PG_ADMIN_URL } from '../prisma/databases.ts';
import { type Stack, sample, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const t2v = {
  task: 't2v' as const,
  prompt: 'a red circle moves right on a dark blue background',
  steps: 6,
  frames: 17,
};
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe('the service under faults (real Redis, SQLite, worker processes)', () => {
  it('delivers a clip end to end with progress, a preview, a stored clip and the GPU seconds charged', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    await stack.startWorker('w1');

    const answer = await stack.submit({
      task: 'i2v',
      prompt: 'a yellow star moves up on a black background',
      steps: 4,
      frames: 17,
      images: [{ bytes: await sample('yellow-star.png') }],
    });

    expect(answer).toMatchObject({ ok: true, position: 1, duplicate: false });
    if (!answer.ok) return;
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the delivery');
    expect(stack.deliveries[0]).toMatchObject({ kind: 'succeeded', jobId: answer.jobId, frames: 17 });
    expect(stack.updates.some((u) => u.kind === 'progress' && u.preview !== undefined)).toBe(true);
    const job = await stack.service.store.job(answer.jobId);
    expect(job).toMatchObject({ status: 'succeeded' });
    expect(job?.chargedSeconds).toBeGreaterThan(0);
    expect(job?.clip?.mp4Path).toMatch(/clip\.mp4$/);
  });

  it('draws a seed in the core for a request without one and keeps one that is given', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });

    const answers = await Promise.all([
      stack.submit(t2v, { requestKey: 'no-seed-1' }),
      stack.submit(t2v, { requestKey: 'no-seed-2' }),
      stack.submit({ ...t2v, seed: 5 }, { requestKey: 'seed-5' }),
    ]);

    const seeds = await Promise.all(
      answers.map(async (a) =>
        a.ok ? (await stack!.service.store.job(a.jobId))?.parameters['seed'] : a.error.message,
      ),
    );
    for (const seed of seeds.slice(0, 2)) expect(seed).toSatisfy((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 32);
    expect(seeds[0]).not.toBe(seeds[1]);
    expect(seeds[2]).toBe(5);
  });

  it('makes one job of the same request delivered twice', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });

    const [a, b] = await Promise.all([
      stack.submit(t2v, { requestKey: 'same-interaction' }),
      stack.submit(t2v, { requestKey: 'same-interaction' }),
    ]);
    const c = await stack.submit(t2v, { requestKey: 'same-interaction' });

    expect(a.ok && b.ok && c.ok).toBe(true);
    if (!a.ok || !b.ok || !c.ok) return;
    expect(new Set([a.jobId, b.jobId, c.jobId]).size).toBe(1);
    expect(c.duplicate).toBe(true);
    expect(await stack.service.generate.getJobCounts('waiting', 'prioritized')).toMatchObject({ prioritized: 1 });
  });

  it('gives two users who send the same request key a job each', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });

    const ada = await stack.submit(t2v, { requestKey: 'shared-key', user: 'ada' });
    const bob = await stack.submit(t2v, { requestKey: 'shared-key', user: 'bob' });

    expect(ada.ok && bob.ok).toBe(true);
    if (!ada.ok || !bob.ok) return;
    expect(bob.jobId).not.toBe(ada.jobId);
    expect(bob.duplicate).toBe(false);
    const [adaJob, bobJob] = await Promise.all([
      stack.service.store.job(ada.jobId),
      stack.service.store.job(bob.jobId),
    ]);
    expect(adaJob?.userId).not.toBe(bobJob?.userId);
  });

  it('retries a job whose worker is SIGKILLed mid-job on another worker, delivering and charging it once', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const first = await stack.startWorker('victim');
    const answer = await stack.submit({ ...t2v, steps: 12 });
    if (!answer.ok) throw answer.error;
    await stack.waitFor(
      () => stack!.updates.some((u) => u.kind === 'progress' && u.jobId === answer.jobId),
      'the first progress',
    );

    first.child.kill('SIGKILL');
    await first.exited;
    await stack.startWorker('rescuer');
    await stack.waitFor(() => stack!.deliveries.length >= 1, 'the delivery after the kill');
    await new Promise((r) => setTimeout(r, 1500));

    expect(stack.deliveries.map((d) => [d.kind, d.jobId])).toEqual([['succeeded', answer.jobId]]);
    const job = await stack.service.store.job(answer.jobId);
    expect(job?.status).toBe('succeeded');
    const usage = await stack.service.store.usageByUser(job?.workspaceId ?? '', new Date(0));
    expect(usage[0]?.jobs).toBe(1);
  });

  it('loses no accepted job when Redis is killed and restarted (appendonly)', async () => {
    const redis = await startLocalRedis({ appendOnly: true });
    try {
      stack = await startStack({ redisUrl: redis.url });
      const answers = await Promise.all([
        stack.submit({ ...t2v, steps: 2 }),
        stack.submit({ ...t2v, steps: 2, seed: 5 }, { user: 'grace' }),
      ]);
      expect(answers.every((a) => a.ok)).toBe(true);

      await redis.stop('SIGKILL');
      await redis.restart();
      await stack.startWorker('after-restart');
      await stack.waitFor(() => stack!.deliveries.length === 2, 'both deliveries after the restart', 120_000);

      expect(stack.deliveries.every((d) => d.kind === 'succeeded')).toBe(true);
    } finally {
      await stack?.stop();
      stack = undefined;
      await redis.destroy();
    }
  });

  it('lets a worker finish its job on SIGTERM before it exits', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const worker = await stack.startWorker('graceful');
    const answer = await stack.submit({ ...t2v, steps: 8 });
    if (!answer.ok) throw answer.error;
    await stack.waitFor(() => stack!.updates.some((u) => u.kind === 'progress'), 'the first progress');

    worker.child.kill('SIGTERM');
    const code = await worker.exited;

    expect(code).toBe(0);
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the delivery');
    expect(stack.deliveries[0]).toMatchObject({ kind: 'succeeded', jobId: answer.jobId });
  });

  it('rejects payloads of another version, and garbage, without retrying, and tells the user', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(JobName.Generate, { connection, prefix: stack.prefix });
    const origin = { platform: 'local', workspaceId: 'w', userId: 'u', ephemeral: false };
    await queue.add(
      JobName.Generate,
      { v: 0, jobId: 'old-1', requestId: 'r-old', origin, request: { prompt: 'x' } },
      { jobId: 'old-1', attempts: 3 },
    );
    await queue.add(JobName.Generate, 'complete garbage', { jobId: 'garbage-1', attempts: 3 });
    await stack.startWorker('strict');

    await stack.waitFor(() => stack!.deliveries.length === 1, 'the refusal');
    const failedJobs = async () => (await queue.getJobs(['failed'])).map((j) => [j.id, j.attemptsMade]);
    await stack.waitFor(() => true, '');
    await new Promise((r) => setTimeout(r, 500));

    expect(stack.deliveries[0]).toMatchObject({ kind: 'failed', jobId: 'old-1', code: 'UnsupportedVersion' });
    expect((stack.deliveries[0] as { message: string }).message).toMatch(/unsupported generate payload version 0/);
    expect((await failedJobs()).sort()).toEqual([
      ['garbage-1', 1],
      ['old-1', 1],
    ]);
    await queue.close();
    connection.disconnect();
  });

  it('stops taking requests when draining, while queued work still completes', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const queued = await stack.submit({ ...t2v, steps: 2 });

    stack.service.frontEnd.drain();
    const refused = await stack.submit(t2v);
    await stack.startWorker('drain');

    expect(queued.ok).toBe(true);
    expect(refused).toMatchObject({ ok: false, error: { code: 'Unavailable' } });
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the queued job');
  });

  it('cancels a queued job at once and releases its reservation', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const answer = await stack.submit(t2v);
    if (!answer.ok) throw answer.error;
    const job = await stack.service.store.job(answer.jobId);

    const result = await stack.service.frontEnd.cancel(answer.jobId, { userId: job?.userId ?? '' });

    expect(result).toEqual({ ok: true, state: 'cancelled' });
    expect((await stack.service.store.job(answer.jobId))?.status).toBe('cancelled');
    const quota = await stack.service.frontEnd.quota(job?.userId ?? '', job?.workspaceId ?? '');
    expect(quota.reservedSeconds).toBe(0);
  });

  it('refuses with a clear reason: a blocked prompt, a bad image, an unknown clip, the image-check hook', async () => {
    const checked: string[] = [];
    stack = await startStack({
      redisUrl: REDIS_URL,
      imageCheck: async ({ name, width, rgb }) => {
        checked.push(`${name}:${width}:${rgb.length}`);
        return name === 'nsfw.png' ? { ok: false, reason: 'the image check flagged it' } : { ok: true };
      },
    });
    const ws = await stack.service.store.ensureWorkspace({ platform: 'local', externalId: 'tests', name: 'tests' });
    await stack.service.store.addBlockRule(ws.id, { pattern: 'forbidden', kind: 'word', createdBy: 'admin' });

    const blocked = await stack.submit({ ...t2v, prompt: 'a forbidden circle' });
    const badImage = await stack.submit({
      task: 'i2v',
      prompt: 'p',
      images: [{ bytes: Buffer.from('not an image'), name: 'cat.jpg' }],
    });
    const noClip = await stack.submit({ task: 'extend', prompt: 'p', clips: [{ clipId: 'nope' }] });
    const badFrames = await stack.submit({ ...t2v, frames: 18 });
    const badSize = await stack.submit({ ...t2v, size: [256, 256] });
    const flagged = await stack.submit({
      task: 'i2v',
      prompt: 'p',
      images: [{ bytes: await sample('yellow-star.png'), name: 'nsfw.png' }],
    });

    expect(blocked).toMatchObject({ ok: false, error: { code: 'BlockedPrompt' } });
    expect(badImage).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
    expect(!badImage.ok && badImage.error.message).toMatch(/cat\.jpg: .*not a supported image/);
    expect(noClip).toMatchObject({ ok: false, error: { code: 'NotFound' } });
    expect(badFrames).toMatchObject({ ok: false, error: { code: 'InvalidOption' } });
    expect(badSize).toMatchObject({
      ok: false,
      error: { code: 'InvalidOption', message: 'size must be one of 128x128 for pusa-mini; got 256x256' },
    });
    expect(flagged).toMatchObject({
      ok: false,
      error: { code: 'BlockedPrompt', message: 'nsfw.png was refused: the image check flagged it' },
    });
    expect(checked).toEqual([`nsfw.png:128:${128 * 128 * 3}`]);
  });
});

describe('the service when its database is briefly unreachable (PostgreSQL through a proxy that is cut)', () => {
  it('answers "try again" without queueing or crashing, and delivers what was queued once the database is back', async () => {
    const database = await createTestDatabase('postgresql');
    const admin = new URL(PG_ADMIN_URL);
    const proxy = pgProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
    const port = await proxy.start();
    const url = new URL(database.url);
    url.port = String(port);
    try {
      stack = await startStack({ redisUrl: REDIS_URL, databaseUrl: url.toString() });
      const queued = await stack.submit({ ...t2v, steps: 2 });
      expect(queued.ok).toBe(true);

      await proxy.cut();
      const refused = await stack.submit(t2v);
      await stack.startWorker('during-outage');
      await new Promise((r) => setTimeout(r, 4000));
      await proxy.start(port);

      expect(refused).toMatchObject({ ok: false, error: { code: 'Unavailable' } });
      expect(!refused.ok && refused.error.message).toMatch(/try again/);
      await stack.waitFor(() => stack!.deliveries.length === 1, 'the delivery after the outage', 120_000);
      expect(stack.deliveries[0]).toMatchObject({ kind: 'succeeded' });
      const after = await stack.submit({ ...t2v, steps: 2 });
      expect(after.ok).toBe(true);
    } finally {
      await stack?.stop();
      stack = undefined;
      await proxy.cut();
      await database.drop();
    }
  });
});
