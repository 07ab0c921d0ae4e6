import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { cancelKey } from '../../queue/names.ts';
import { type Stack, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const t2v = { task: 't2v' as const, prompt: 'a red circle moves right on a dark blue background', frames: 17 };
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

/** Polls the generate job until BullMQ has recorded its end (the processor's throw lands after its delivery). */
async function finalState(s: Stack, jobId: string): Promise<{ state: string; reason: string | undefined }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await s.service.generate.getJob(jobId);
    const state = job === undefined ? 'missing' : await job.getState();
    if (state === 'failed' || state === 'completed') return { state, reason: job?.failedReason };
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a cancel survives the death of the job’s worker (real Redis, SQLite, worker processes)', () => {
  it('ends a job cancelled and uncharged when the cancel came while no worker was alive', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const victim = await stack.startWorker('victim');
    const answer = await stack.submit({ ...t2v, steps: 12 });
    if (!answer.ok) throw answer.error;
    await stack.waitFor(
      () => stack!.updates.some((u) => u.kind === 'progress' && u.jobId === answer.jobId),
      'the first progress',
    );
    victim.child.kill('SIGKILL');
    await victim.exited;
    const record = await stack.service.store.job(answer.jobId);

    const cancelled = await stack.service.frontEnd.cancel(answer.jobId, { userId: record?.userId ?? '' });
    await stack.startWorker('rescuer');
    await stack.waitFor(() => stack!.deliveries.length >= 1, 'the outcome after the rescue');

    expect(cancelled).toEqual({ ok: true, state: 'cancelling' });
    expect(stack.deliveries.map((d) => [d.kind, d.jobId])).toEqual([['cancelled', answer.jobId]]);
    const job = await stack.service.store.job(answer.jobId);
    expect(job).toMatchObject({ status: 'cancelled', chargedSeconds: 0 });
    expect(job?.clip).toBeNull();
    const quota = await stack.service.frontEnd.quota(job?.userId ?? '', job?.workspaceId ?? '');
    expect(quota).toMatchObject({ usedSeconds: 0, reservedSeconds: 0, queued: 0 });
    // The rescuer ended it without running it: BullMQ records the processor's refusal, not a result.
    expect(await finalState(stack, answer.jobId)).toEqual({ state: 'failed', reason: 'cancelled' });
  });
});

describe('a cancel whose broadcast no worker heard (real Redis, SQLite, a worker process)', () => {
  it('is read by the running worker between steps, and ends the job cancelled and uncharged', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    await stack.startWorker('deaf');
    const answer = await stack.submit({ ...t2v, steps: 40 });
    if (!answer.ok) throw answer.error;
    await stack.waitFor(
      () => stack!.updates.some((u) => u.kind === 'progress' && u.jobId === answer.jobId),
      'the first progress',
    );

    // Only the durable record, as if the pub/sub message had been sent while this worker's subscriber reconnected.
    const redis = new Redis(REDIS_URL);
    await redis.set(cancelKey(stack.prefix, answer.jobId), '1', 'EX', 600);
    redis.disconnect();
    await stack.waitFor(() => stack!.deliveries.length >= 1, 'the outcome');

    expect(stack.deliveries.map((d) => [d.kind, d.jobId])).toEqual([['cancelled', answer.jobId]]);
    expect(await finalState(stack, answer.jobId)).toEqual({ state: 'failed', reason: 'cancelled' });
    const steps = stack.updates.filter((u) => u.kind === 'progress' && u.jobId === answer.jobId).length;
    expect(steps).toBeLessThan(40);
    expect(await stack.service.store.job(answer.jobId)).toMatchObject({ status: 'cancelled', chargedSeconds: 0 });
  });
});
