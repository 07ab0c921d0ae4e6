import { writeFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery } from '../../bot/core/events.ts';
import { type Stack, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const t2v = {
  task: 't2v' as const,
  prompt: 'a red circle moves right on a dark blue background',
  steps: 2,
  frames: 17,
};

/**
 * A clip's latents sidecar is read by the bot (from the artifact store, at submit) and by the worker (from the job's
 * blob): both check it whole where they read it. A damaged one is the storage's fault, so the request is refused or
 * the job failed at once, saying so, and nothing is charged ([13]).
 */
describe('damaged clip sidecars (real Redis, SQLite, a pusa-mini worker process)', () => {
  let stack: Stack;
  let redis: Redis;
  let clipId: string;
  let latentsPath: string;
  beforeAll(async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    redis = new Redis(REDIS_URL);
    await stack.startWorker('w1');
    const made = await stack.submit(t2v);
    if (!made.ok) throw made.error;
    await stack.waitFor(() => stack.deliveries.some((d) => d.jobId === made.jobId), 'the first clip');
    const clip = (await stack.service.store.job(made.jobId))?.clip;
    if (clip === null || clip === undefined || clip.latentsPath === null) throw new Error('no clip was stored');
    clipId = clip.id;
    latentsPath = clip.latentsPath;
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  const outcomeOf = (jobId: string) =>
    stack.deliveries.find((d): d is Extract<Delivery, { kind: 'failed' }> => d.jobId === jobId && d.kind === 'failed');
  const extend = () => stack.submit({ task: 'extend', prompt: t2v.prompt, steps: 2, clips: [{ clipId }] });

  it('fails a job whose clip sidecar is damaged in the queue at once, as our fault, and uncharged', async () => {
    const original = await stack.service.artifacts.read(latentsPath);
    const header = original.readUInt32LE(8);
    const damaged = {
      truncated: original.subarray(0, original.length - 100),
      // A header that is valid JSON without dims: the old decoder threw a TypeError, retried as a worker failure.
      headerless: Buffer.concat([original.subarray(0, 8), Buffer.from([2, 0, 0, 0]), Buffer.from('{}')]),
    };
    expect(header).toBeGreaterThan(0);
    await stack.service.generate.pause();
    const jobs: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(damaged)) {
      const answer = await extend();
      if (!answer.ok) throw answer.error;
      const clips = (await stack.service.store.job(answer.jobId))?.parameters['clips'] as { latentsKey: string }[];
      await redis.set(clips[0]?.latentsKey ?? '', bytes, 'KEEPTTL');
      jobs[name] = answer.jobId;
    }

    await stack.service.generate.resume();
    await stack.waitFor(() => Object.values(jobs).every((id) => outcomeOf(id) !== undefined), 'both failures');

    for (const jobId of Object.values(jobs)) {
      expect(outcomeOf(jobId)).toMatchObject({ code: 'ClipDamaged' });
      expect(outcomeOf(jobId)?.message).toMatch(/damaged on our side .*nothing was charged/);
      expect(await stack.service.store.job(jobId)).toMatchObject({ status: 'failed', chargedSeconds: 0 });
      // Failed on its first attempt: the same bytes would be read again.
      expect((await stack.service.generate.getJob(jobId))?.attemptsMade).toBe(1);
    }
    const job = await stack.service.store.job(jobs['truncated'] ?? '');
    expect(await stack.service.frontEnd.quota(job?.userId ?? '', job?.workspaceId ?? '')).toMatchObject({
      reservedSeconds: 0,
      queued: 0,
    });
  });

  it('refuses to continue a clip whose stored sidecar is truncated, before reserving anything', async () => {
    const original = await stack.service.artifacts.read(latentsPath);
    await writeFile(stack.service.artifacts.absolute(latentsPath), original.subarray(0, original.length / 2));
    const before = await stack.service.store.job((stack.deliveries[0] as Delivery).jobId);

    const answer = await extend();

    expect(answer).toMatchObject({ ok: false, error: { code: 'NotFound' } });
    expect(!answer.ok && answer.error.message).toMatch(new RegExp(`clip ${clipId} is damaged on the bot host`));
    expect(await stack.service.frontEnd.quota(before?.userId ?? '', before?.workspaceId ?? '')).toMatchObject({
      reservedSeconds: 0,
      queued: 0,
    });
    await writeFile(stack.service.artifacts.absolute(latentsPath), original);
  });
});
