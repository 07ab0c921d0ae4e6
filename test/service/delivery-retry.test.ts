import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Delivery } from '../../bot/core/events.ts';
import { type DeliverJobData, JobName } from '../../commands/index.ts';
import { encodeSidecar } from '../../media/sidecar.ts';
import { BLOB_TTL_SECONDS, createBlobStore } from '../../queue/blobs.ts';
import {
  DELIVERY_MAX_DELAY_MS,
  deliveryAttempts,
  deliveryBackoffMs,
  deliveryJobOptions,
} from '../../queue/delivery-retry.ts';
import { tensor } from '../../sampler/index.ts';
import { type Stack, sample, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const t2v = {
  task: 't2v' as const,
  prompt: 'a red circle moves right on a dark blue background',
  steps: 4,
  frames: 17,
};

let stack: Stack | undefined;
let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup) await step().catch(() => undefined);
  cleanup = [];
  await stack?.stop();
  stack = undefined;
});

/** A valid sidecar of a tiny clip: the delivery checks the latents before storing them. */
const someLatents = () =>
  encodeSidecar(tensor(new Float32Array(16), [1, 1, 1, 4, 4]), {
    model: { name: 'pusa-mini', version: '1' },
    width: 64,
    height: 64,
    fps: 16,
    task: 't2v',
    prompt: 'p',
    seed: 1,
  });

/** Reserves a job (no worker runs it) and enqueues its finished result the way a worker does, with few attempts. */
async function finishedJob(s: Stack, attempts: number, latents: Uint8Array = someLatents()) {
  const answer = await s.submit(t2v);
  if (!answer.ok) throw new Error(answer.error.message);
  const redis = new Redis(REDIS_URL);
  const deliver = new Queue(JobName.Deliver, { connection: redis, prefix: s.prefix });
  cleanup.push(
    () => deliver.obliterate({ force: true }),
    () => deliver.close(),
    () => redis.quit(),
  );
  const blobs = createBlobStore(redis, `${s.prefix}:blob`);
  const mp4 = await sample('yellow-star.png'); // any bytes: the delivery stores them as they are
  const data: DeliverJobData = {
    v: 1,
    jobId: answer.jobId,
    requestId: answer.jobId,
    origin: (await s.service.store.job(answer.jobId))!.origin as DeliverJobData['origin'],
    outcome: {
      status: 'succeeded',
      mp4Key: await blobs.put('mp4', mp4),
      latentsKey: await blobs.put('latents', latents),
      parameters: { width: 64, height: 64, fps: 16, seed: 1 },
      gpuSeconds: 2,
      frames: 17,
      bytes: mp4.length,
      workerId: 'w1',
    },
  };
  await deliver.add(JobName.Deliver, data, deliveryJobOptions(answer.jobId, attempts));
  return { jobId: answer.jobId, deliver };
}

describe('delivery retry policy', () => {
  it('doubles from 1 s, caps at 5 min and keeps trying for as long as the job inputs live', () => {
    expect([1, 2, 3, 9].map(deliveryBackoffMs)).toEqual([1_000, 2_000, 4_000, 256_000]);
    expect(deliveryBackoffMs(10)).toBe(DELIVERY_MAX_DELAY_MS);
    expect(deliveryBackoffMs(10_000)).toBe(DELIVERY_MAX_DELAY_MS);
    const attempts = deliveryAttempts();
    let waited = 0;
    for (let n = 1; n < attempts; n += 1) waited += deliveryBackoffMs(n);
    expect(waited).toBeLessThanOrEqual(BLOB_TTL_SECONDS * 1000);
    expect(waited + deliveryBackoffMs(attempts)).toBeGreaterThan(BLOB_TTL_SECONDS * 1000);
    expect(deliveryJobOptions('j')).toMatchObject({ jobId: 'deliver-j', attempts });
  });
});

describe('a delivery that never succeeds ends the job (real Redis, SQLite, the delivery consumer)', () => {
  it('fails and releases a clip that cannot be stored, tells its owner once and logs the job id', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    // A file where the artifact folder goes: every save fails, as on a full or broken disk.
    await writeFile(join(stack.dir, 'artifacts'), 'not a folder');
    const { jobId, deliver } = await finishedJob(stack, 3);

    await stack.waitFor(() => stack!.deliveries.length > 0, 'the owner to be told');
    await stack.waitFor(
      async () => (await deliver.getJobState(`deliver-${jobId}`)) === 'failed',
      'the delivery to end',
    );

    expect(stack.deliveries).toEqual([expect.objectContaining({ kind: 'failed', jobId, code: 'DeliveryFailed' })]);
    expect((stack.deliveries[0] as Extract<Delivery, { kind: 'failed' }>).message).toMatch(/nothing was charged/);
    const job = await stack.service.store.job(jobId);
    expect(job).toMatchObject({ status: 'failed', chargedSeconds: 0, error: { code: 'DeliveryFailed' } });
    const quota = await stack.service.store.quota(job!.userId, job!.workspaceId, new Date());
    expect(quota).toMatchObject({ usedSeconds: 0, reservedSeconds: 0, queued: 0 });
    expect(stack.logs.some((l) => l.startsWith('error delivery given up') && l.includes(jobId))).toBe(true);
  });

  it('fails a result whose latents arrive damaged, uncharged, instead of storing a clip that cannot be continued', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const whole = someLatents();
    const { jobId } = await finishedJob(stack, 3, whole.subarray(0, whole.length - 8));

    await stack.waitFor(() => stack!.deliveries.length > 0, 'the owner to be told');

    expect(stack.deliveries).toEqual([expect.objectContaining({ kind: 'failed', jobId, code: 'ResultDamaged' })]);
    expect((stack.deliveries[0] as Extract<Delivery, { kind: 'failed' }>).message).toMatch(/nothing was charged/);
    const job = await stack.service.store.job(jobId);
    expect(job).toMatchObject({ status: 'failed', chargedSeconds: 0, clip: null, error: { code: 'ResultDamaged' } });
    const quota = await stack.service.store.quota(job!.userId, job!.workspaceId, new Date());
    expect(quota).toMatchObject({ usedSeconds: 0, reservedSeconds: 0, queued: 0 });
    expect(stack.logs.some((l) => l.startsWith('error the result of a job arrived damaged') && l.includes(jobId))).toBe(
      true,
    );
  });

  it('refunds a clip stored and charged whose post keeps failing, tries to tell its owner, and logs when even that fails', async () => {
    const attempted: Delivery[] = [];
    stack = await startStack({
      redisUrl: REDIS_URL,
      deliver: async (d) => {
        attempted.push(d);
        throw new Error('chat platform unreachable');
      },
    });
    const { jobId, deliver } = await finishedJob(stack, 3);

    await stack.waitFor(() => stack!.logs.some((l) => l.includes('could not tell the owner')), 'the last word');
    await stack.waitFor(
      async () => (await deliver.getJobState(`deliver-${jobId}`)) === 'failed',
      'the delivery to end',
    );

    expect(attempted.map((d) => d.kind)).toEqual(['succeeded', 'succeeded', 'succeeded', 'failed']);
    expect(attempted[3]).toMatchObject({ jobId, code: 'DeliveryFailed' });
    expect((attempted[3] as Extract<Delivery, { kind: 'failed' }>).message).toMatch(/nothing was charged/);
    // Stored and charged on the first attempt, then never posted: refunded, and the clip its owner never got is gone.
    const job = await stack.service.store.job(jobId);
    expect(job).toMatchObject({ status: 'failed', chargedSeconds: 0, clip: null, error: { code: 'DeliveryFailed' } });
    const quota = await stack.service.store.quota(job!.userId, job!.workspaceId, new Date());
    expect(quota).toMatchObject({ usedSeconds: 0, reservedSeconds: 0, queued: 0 });
    const clip = (attempted[0] as Extract<Delivery, { kind: 'succeeded' }>).mp4Absolute;
    await expect(access(clip)).rejects.toThrow(/ENOENT/);
    expect(stack.logs.some((l) => l.startsWith('error delivery given up') && l.includes(jobId))).toBe(true);
  });
});
