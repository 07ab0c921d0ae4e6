import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { GenerationRequest, type GenerationRequestInput } from '../../commands/index.ts';
import type { JobRecord } from '../../prisma/types.ts';
import { createBlobStore } from '../../queue/blobs.ts';
import { startLocalRedis } from '../../scripts/local-redis.ts';
import { createTestDatabase, PROVIDERS, type Provider, type TestDatabase } from '../prisma/databases.ts';
import { type Stack, sample, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const t2v = {
  task: 't2v' as const,
  prompt: 'a red circle moves right on a dark blue background',
  steps: 2,
  frames: 17,
};
/** No pass runs by itself in these tests unless one sets a short interval. */
const MANUAL = { RECONCILE_INTERVAL_MS: 3_600_000, RECONCILE_GRACE_MS: 0 };
let stack: Stack | undefined;
let database: TestDatabase | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  await database?.drop();
  database = undefined;
});

/**
 * What the front-end core writes before its queue add, and nothing after: the bot SIGKILLed between the store's
 * reservation and `generate.add`.
 */
async function reserveWithoutQueue(s: Stack, request: GenerationRequestInput, user = 'ada'): Promise<JobRecord> {
  const { store } = s.service;
  const [u, w] = await Promise.all([
    store.ensureUser({ platform: 'local', externalId: user, displayName: user }),
    store.ensureWorkspace({ platform: 'local', externalId: 'tests', name: 'tests' }),
  ]);
  const parsed = GenerationRequest.parse({ seed: 3, ...request });
  const requestId = randomUUID();
  const reserved = await store.reserve({
    requestKey: `local:${user}:crashed-${requestId}`,
    userId: u.id,
    workspaceId: w.id,
    task: parsed.task,
    parameters: JSON.parse(JSON.stringify({ ...parsed, requestId })),
    estimatedSeconds: 5,
    origin: { platform: 'local', channelId: 'c', ephemeral: false, workspaceId: w.id, userId: u.id },
    now: new Date(),
    prompt: parsed.prompt,
  });
  if (!reserved.ok) throw new Error(reserved.message);
  return reserved.job;
}

const submitted = async (s: Stack, request: Parameters<Stack['submit']>[0], user = 'ada') => {
  const answer = await s.submit(request, { user });
  if (!answer.ok) throw answer.error;
  return answer.jobId;
};
const outcomes = (s: Stack) =>
  Object.fromEntries(s.deliveries.map((d) => [d.jobId, d.kind === 'failed' ? `failed:${d.code}` : d.kind]));

/**
 * The reconciler's queries (jobs in flight older than the grace period, its cross-process lock) run on both stores:
 * a fresh database of its own per test, SQLite or PostgreSQL.
 */
const on = async (provider: Provider, options: Omit<Parameters<typeof startStack>[0], 'databaseUrl'>) => {
  database = await createTestDatabase(provider);
  return startStack({ ...options, databaseUrl: database.url });
};

describe.each(PROVIDERS)('the reconciler on %s (real Redis, worker processes)', (provider) => {
  it('re-enqueues jobs the queue never got or lost, fails and releases the one whose inputs are gone', async () => {
    stack = await on(provider, { redisUrl: REDIS_URL, config: MANUAL });
    const { generate, store } = stack.service;
    const crashed = await reserveWithoutQueue(stack, t2v);
    // Four users: each job holds a slot under its owner's cap of 3 until it is settled.
    const removed = await submitted(stack, { ...t2v, seed: 7 }, 'bob');
    await (await generate.getJob(removed))?.remove();
    const expired = await submitted(
      stack,
      {
        task: 'i2v',
        prompt: 'a yellow star moves up on a black background',
        steps: 2,
        frames: 17,
        images: [{ bytes: await sample('yellow-star.png') }],
      },
      'cara',
    );
    await (await generate.getJob(expired))?.remove();
    const images = (await store.job(expired))?.parameters['images'] as { key: string }[] | undefined;
    const imageKey = images?.[0]?.key ?? '';
    expect(imageKey).toMatch(/:blob:image:/);
    const redis = new Redis(REDIS_URL);
    const blobs = createBlobStore(redis, `${stack.prefix}:blob`);
    await blobs.delete(imageKey);
    redis.disconnect();
    const healthy = await submitted(stack, { ...t2v, seed: 9 }, 'dan');

    const report = await stack.service.reconciler.runOnce();
    const again = await stack.service.reconciler.runOnce();
    await stack.startWorker('after-repair');
    await stack.waitFor(() => stack!.deliveries.length >= 4, 'four outcomes');

    expect({ ...report, requeued: [...report.requeued].sort() }).toEqual({
      ran: true,
      checked: 4,
      requeued: [crashed.id, removed].sort(),
      failed: [expired],
      cancelled: [],
    });
    expect(again).toMatchObject({ ran: true, requeued: [], failed: [], cancelled: [] });
    expect(outcomes(stack)).toEqual({
      [crashed.id]: 'succeeded',
      [removed]: 'succeeded',
      [healthy]: 'succeeded',
      [expired]: 'failed:InputExpired',
    });
    expect(stack.deliveries).toHaveLength(4);
    for (const id of [crashed.id, removed, expired, healthy]) {
      const job = await store.job(id);
      const quota = await stack.service.frontEnd.quota(job?.userId ?? '', job?.workspaceId ?? '');
      expect(quota).toMatchObject({ reservedSeconds: 0, queued: 0 });
    }
    expect(await store.job(expired)).toMatchObject({ status: 'failed', chargedSeconds: 0 });
  });

  it('re-enqueues every job of one reservation batch when the bot died after its commit, before its addBulk', async () => {
    stack = await on(provider, { redisUrl: REDIS_URL, config: MANUAL });
    const { generate, store } = stack.service;
    // Reserved at one moment, so the store commits them as one group (prisma/reserve-batch.ts); nothing reaches Redis.
    const crashed = await Promise.all(
      ['ann', 'ben', 'cy', 'dee'].map((user, i) => reserveWithoutQueue(stack!, { ...t2v, seed: i }, user)),
    );
    const ids = crashed.map((job) => job.id).sort();

    const report = await stack.service.reconciler.runOnce();

    expect({ ...report, requeued: [...report.requeued].sort() }).toMatchObject({
      ran: true,
      checked: 4,
      requeued: ids,
    });
    for (const job of crashed) {
      const queued = await generate.getJob(job.id);
      expect(queued?.data).toMatchObject({ jobId: job.id, request: { seed: job.parameters['seed'] } });
      // Still reserved (not charged, not released) until a worker finishes it.
      expect(await store.quota(job.userId, job.workspaceId, new Date())).toMatchObject({
        reservedSeconds: 5,
        usedSeconds: 0,
        queued: 1,
      });
    }
  });

  it('leaves a job inside its grace period alone, and runs one pass at a time across bot processes', async () => {
    stack = await on(provider, { redisUrl: REDIS_URL, config: { ...MANUAL, RECONCILE_GRACE_MS: 600_000 } });
    const young = await reserveWithoutQueue(stack, t2v);

    const passes = await Promise.all([stack.service.reconciler.runOnce(), stack.service.reconciler.runOnce()]);

    expect(passes.map((p) => p.ran).sort()).toEqual([false, true]);
    expect(passes.find((p) => p.ran)).toMatchObject({ checked: 0, requeued: [], failed: [] });
    expect(await stack.service.generate.getJob(young.id)).toBeUndefined();
    expect((await stack.service.store.job(young.id))?.status).toBe('queued');
  });

  it('repairs by itself, started with the service, after Redis restarts with its data gone', async () => {
    const redis = await startLocalRedis({ appendOnly: false });
    try {
      stack = await on(provider, {
        redisUrl: redis.url,
        config: { RECONCILE_INTERVAL_MS: 300, RECONCILE_GRACE_MS: 0 },
      });
      const plain = await submitted(stack, t2v);
      const withImage = await submitted(stack, {
        task: 'i2v',
        prompt: 'a yellow star moves up on a black background',
        steps: 2,
        frames: 17,
        images: [{ bytes: await sample('yellow-star.png') }],
      });

      await redis.stop('SIGKILL');
      await redis.restart();
      await stack.startWorker('after-amnesia');
      await stack.waitFor(() => stack!.deliveries.length >= 2, 'both outcomes after the restart', 120_000);

      expect(outcomes(stack)).toEqual({ [plain]: 'succeeded', [withImage]: 'failed:InputExpired' });
      const job = await stack.service.store.job(plain);
      expect(job).toMatchObject({ status: 'succeeded' });
      const quota = await stack.service.frontEnd.quota(job?.userId ?? '', job?.workspaceId ?? '');
      expect(quota).toMatchObject({ reservedSeconds: 0, queued: 0 });
    } finally {
      await stack?.stop();
      stack = undefined;
      await redis.destroy();
    }
  });
});
