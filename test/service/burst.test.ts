import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { JobName } from '../../commands/index.ts';
import { createTestDatabase, PROVIDERS, type TestDatabase } from '../prisma/databases.ts';
import { type Stack, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const t2v = {
  task: 't2v' as const,
  prompt: 'a red circle moves right on a dark blue background',
  steps: 2,
  frames: 17,
};

let stack: Stack | undefined;
let database: TestDatabase | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  await database?.drop();
  database = undefined;
});

/**
 * Submits at one moment go through the front-end core's group commits (the store's reservation batch, one addBulk,
 * one reading of the queue): each answer must still be its own, and the quota exact. No worker runs, so every job
 * stays queued where the answers say.
 */
describe.each(PROVIDERS)('a burst of submits on %s (real Redis)', (provider) => {
  const start = async () => {
    database = await createTestDatabase(provider);
    return startStack({ redisUrl: REDIS_URL, databaseUrl: database.url, config: { RECONCILE_INTERVAL_MS: 3_600_000 } });
  };

  it('starts warmed up (WARM_UP_SUBMITS) and keeps nothing of it: no rows, no queue keys, the first job first', async () => {
    database = await createTestDatabase(provider);
    stack = await startStack({
      redisUrl: REDIS_URL,
      databaseUrl: database.url,
      config: { RECONCILE_INTERVAL_MS: 3_600_000, WARM_UP_SUBMITS: 60 },
    });
    const s = stack;
    const redis = new Redis(REDIS_URL);
    try {
      // The warm-up's scratch queues (bot/core/warm-up.ts) were deleted, and it added nothing to the real queue.
      expect(await redis.keys(`${s.prefix}:warm-up*`)).toEqual([]);
      expect(await s.service.generate.getJobCounts()).toEqual(
        expect.objectContaining({ waiting: 0, prioritized: 0, active: 0, delayed: 0 }),
      );
    } finally {
      redis.disconnect();
    }
    expect(await s.service.store.listWorkspaces()).toEqual([]);

    const answer = await s.submit(t2v, { user: 'first' });
    if (!answer.ok) throw answer.error;
    expect(answer.position).toBe(1);
    const user = await s.service.store.ensureUser({ platform: 'local', externalId: 'first', displayName: 'first' });
    const job = await s.service.store.job(answer.jobId);
    expect(await s.service.store.quota(user.id, job?.workspaceId ?? '', new Date())).toMatchObject({
      queued: 1,
      reservedSeconds: answer.estimatedSeconds,
      usedSeconds: 0,
    });
  });

  it('tells each of five users submitting at once their own place in the queue, in the order the jobs run', async () => {
    stack = await start();
    const s = stack;

    const answers = await Promise.all(['ann', 'ben', 'cy', 'dee', 'eve'].map((user) => s.submit(t2v, { user })));

    const ok = answers.map((answer) => {
      if (!answer.ok) throw answer.error;
      return answer;
    });
    // BullMQ's order of the prioritized set is the order the workers take them.
    const order = (await s.service.generate.getJobs(['prioritized'], 0, -1, true)).map((job) => job.id);
    expect(order).toHaveLength(5);
    for (const answer of ok) {
      expect(answer.position).toBe(order.indexOf(answer.jobId) + 1);
      // No worker online counts as one lane, nothing running: the jobs ahead and this one, each its own estimate.
      expect(answer.etaSeconds).toBe(answer.position * answer.estimatedSeconds);
    }
    expect(ok.map((answer) => answer.position).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('accepts exactly 5 of 30 simultaneous submits of one user whose day has room for 5, and queues those 5', async () => {
    stack = await start();
    const s = stack;
    const probe = await s.submit(t2v, { user: 'probe' });
    if (!probe.ok) throw probe.error;
    const user = await s.service.store.ensureUser({ platform: 'local', externalId: 'heavy', displayName: 'heavy' });
    await s.service.store.setUserLimits(user.id, {
      dailyGpuSeconds: 5 * probe.estimatedSeconds,
      maxQueuedJobs: 100,
    });

    const answers = await Promise.all(Array.from({ length: 30 }, () => s.submit(t2v, { user: 'heavy' })));

    const accepted = answers.filter((answer) => answer.ok);
    expect(accepted).toHaveLength(5);
    expect(answers.filter((answer) => !answer.ok && answer.error.code === 'QuotaExceeded')).toHaveLength(25);
    const queued = await s.service.generate.getJobs(['prioritized', 'waiting'], 0, -1);
    expect(
      queued
        .filter((job) => job.name === JobName.Generate)
        .map((job) => job.id)
        .sort(),
    ).toEqual([probe.jobId, ...accepted.map((answer) => (answer.ok ? answer.jobId : ''))].sort());
    const job = await s.service.store.job(accepted[0]?.ok ? accepted[0].jobId : '');
    expect(await s.service.store.quota(user.id, job?.workspaceId ?? '', new Date())).toMatchObject({
      reservedSeconds: 5 * probe.estimatedSeconds,
      usedSeconds: 0,
      queued: 5,
    });
  });
});
