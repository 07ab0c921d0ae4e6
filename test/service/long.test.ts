import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Delivery } from '../../bot/core/events.ts';
import type { LongRequest } from '../../bot/core/long.ts';
import { ChainResult, JobName, segmentJobId } from '../../commands/index.ts';
import { probeClip } from '../../media/mp4.ts';
import { type Stack, sample, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
// pusa-mini: 17-frame segments carrying one latent frame over, so each segment after the first adds 16 frames.
const tiny = { segmentFrames: 17, steps: 1, guidance: 1 } satisfies LongRequest;
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

let n = 0;
const long = (s: Stack, request: LongRequest) =>
  s.service.frontEnd.long({
    requestKey: `${s.prefix}-long-${++n}`,
    user: { platform: 'local', externalId: 'ada', displayName: 'ada' },
    workspace: { platform: 'local', externalId: 'tests', name: 'tests' },
    origin: { platform: 'local', channelId: 'c' },
    request,
  });
const succeeded = (s: Stack) =>
  s.deliveries.find((d): d is Extract<Delivery, { kind: 'succeeded' }> => d.kind === 'succeeded');
/** What each segment's BullMQ job returned: the chain up to it, with the worker that made each segment. */
const chainOf = async (s: Stack, jobId: string, index: number) =>
  ChainResult.parse((await s.service.generate.getJob(segmentJobId(jobId, index)))?.returnvalue?.chain);

describe('/long: a chain of extend segments (real Redis, SQLite, worker processes on pusa-mini)', () => {
  it('makes 12 segments from a storyboard, each prompt in its segment, joined without repeated frames', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    await stack.startWorker('w1');
    const storyboard = Array.from(
      { length: 12 },
      (_, i) => `a red circle moves ${i % 2 === 0 ? 'right' : 'left'} ${i}`,
    );
    const started = Date.now();
    const answer = await long(stack, { ...tiny, storyboard, seed: 7 });
    if (!answer.ok) throw answer.error;
    expect(answer).toMatchObject({ segments: 12, segmentFrames: 17, totalFrames: 17 + 11 * 16, seed: 7 });

    await stack.waitFor(() => stack!.deliveries.length === 1, 'the joined clip', 120_000);
    const seconds = (Date.now() - started) / 1000;
    const delivery = succeeded(stack);
    expect(delivery).toMatchObject({ jobId: answer.jobId, frames: 193, long: { segments: 12, of: 12 } });
    expect(delivery?.long?.stopped).toBeUndefined();
    // The file itself: every segment's first frame (the carried latent) dropped at its join, none repeated.
    const info = await probeClip(delivery?.mp4Absolute ?? '');
    expect(info).toMatchObject({ frames: 193, fps: 16, width: 128, height: 128 });

    // Each segment ran its own prompt and seed, and continued from the one before.
    const chain = await chainOf(stack, answer.jobId, 12);
    expect(chain.segments.map((s) => s.prompt)).toEqual(storyboard);
    expect(chain.segments.map((s) => s.seed)).toEqual(storyboard.map((_, i) => 7 + i));
    expect(chain.segments.map((s) => s.repeatedFrames)).toEqual([0, ...Array(11).fill(1)]);
    // Progress per segment (k of 12) and each segment announced as it landed, in order.
    const progress = stack.updates.filter((u) => u.kind === 'progress' && u.jobId === answer.jobId);
    expect(new Set(progress.map((u) => (u.kind === 'progress' ? u.segment?.index : 0)))).toEqual(
      new Set(Array.from({ length: 12 }, (_, i) => i + 1)),
    );
    expect(progress.every((u) => u.kind === 'progress' && u.segment?.count === 12)).toBe(true);
    const landed = stack.updates.flatMap((u) => (u.kind === 'segment' && u.jobId === answer.jobId ? [u] : []));
    expect(landed.map((u) => u.index)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1).slice(0, landed.length));
    expect(landed.length).toBeGreaterThanOrEqual(11);
    expect(landed[0]?.prompt).toBe(storyboard[0]);

    // Charged per segment made (each at least a second), the reservation released.
    const job = await stack.service.store.job(answer.jobId);
    const charged = chain.segments.reduce((sum, s) => sum + Math.max(1, Math.ceil(s.gpuSeconds)), 0);
    expect(job).toMatchObject({ status: 'succeeded', chargedSeconds: charged });
    const quota = await stack.service.store.quota(job?.userId ?? '', job?.workspaceId ?? '', new Date());
    expect(quota).toMatchObject({ reservedSeconds: 0, usedSeconds: charged });
    console.log(`12-segment /long: ${seconds.toFixed(1)} s end to end, ${charged} GPU s charged`);
  }, 150_000);

  it('starts from an image and fits one prompt over a duration', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    await stack.startWorker('w1');
    const answer = await long(stack, {
      ...tiny,
      prompt: 'a yellow star moves up on a black background',
      seconds: 2,
      image: { bytes: await sample('yellow-star.png') },
    });
    if (!answer.ok) throw answer.error;
    // 2 s at 16 fps is 32 frames: 17 + 16 = 33 is the first chain that long.
    expect(answer).toMatchObject({ segments: 2, totalFrames: 33 });
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the joined clip');
    expect(succeeded(stack)).toMatchObject({ frames: 33, long: { segments: 2, of: 2 } });
    expect((await stack.service.store.job(answer.jobId))?.task).toBe('i2v');
  });

  it('refuses more segments than the operator allows, with the limit in the message, before anything is queued', async () => {
    stack = await startStack({ redisUrl: REDIS_URL, config: { LONG_MAX_SEGMENTS: 3 } });
    const answer = await long(stack, { ...tiny, prompt: 'a blue square', segments: 4 });
    expect(answer.ok).toBe(false);
    if (answer.ok) return;
    expect(answer.error.code).toBe('InvalidOption');
    expect(answer.error.message).toMatch(/at most 3 segments here .*this one needs 4/);
    const bySeconds = await long(stack, { ...tiny, prompt: 'a blue square', seconds: 60 });
    expect(bySeconds.ok === false && bySeconds.error.message).toMatch(/at most 3 segments here/);
    expect(await stack.service.generate.count()).toBe(0);
  });

  it('reserves the whole chain up front: a quota that cannot pay for it refuses it, a retried request makes one', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const request = { ...tiny, prompt: 'a blue square', segments: 6 };
    const first = await long(stack, request);
    if (!first.ok) throw first.error;
    const job = await stack.service.store.job(first.jobId);
    expect(job?.reservedSeconds).toBe(first.estimatedSeconds);
    const quota = await stack.service.store.quota(job?.userId ?? '', job?.workspaceId ?? '', new Date());
    expect(quota.reservedSeconds).toBe(first.estimatedSeconds);
    // The same interaction again: the same chain, nothing reserved twice.
    const again = await stack.service.frontEnd.long({
      requestKey: `${stack.prefix}-long-${n}`,
      user: { platform: 'local', externalId: 'ada', displayName: 'ada' },
      workspace: { platform: 'local', externalId: 'tests', name: 'tests' },
      origin: { platform: 'local', channelId: 'c' },
      request,
    });
    expect(again).toMatchObject({ ok: true, jobId: first.jobId, duplicate: true });
    await stack.service.store.setUserLimits(job?.userId ?? '', { dailyGpuSeconds: first.estimatedSeconds + 1 });
    const refused = await long(stack, request);
    expect(refused.ok === false && refused.error.code).toBe('QuotaExceeded');
  });

  it('is left alone by the reconciler while its flow stands, and failed (not re-run as one clip) once it is lost', async () => {
    stack = await startStack({
      redisUrl: REDIS_URL,
      config: { RECONCILE_GRACE_MS: 0, RECONCILE_INTERVAL_MS: 3_600_000 },
    });
    const answer = await long(stack, { ...tiny, prompt: 'a blue square', segments: 3 });
    if (!answer.ok) throw answer.error;
    const kept = await stack.service.reconciler.runOnce();
    expect(kept).toMatchObject({ ran: true, requeued: [], failed: [] });
    // Redis lost its data: neither the segments nor the chain's root are there any more.
    const redis = new Redis(REDIS_URL);
    for (const queue of [JobName.Generate, JobName.Deliver]) {
      const keys = await redis.keys(`${stack.prefix}:${queue}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
    const lost = await stack.service.reconciler.runOnce();
    expect(lost.failed).toEqual([answer.jobId]);
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the failure');
    expect(stack.deliveries[0]).toMatchObject({ kind: 'failed', jobId: answer.jobId, code: 'Lost' });
    expect(await stack.service.generate.count()).toBe(0);
    expect((await stack.service.store.job(answer.jobId))?.status).toBe('failed');
  });

  it('on cancel stops the chain, delivers the segments made and charges only them', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    await stack.startWorker('w1');
    const answer = await long(stack, { ...tiny, steps: 8, prompt: 'a green triangle spins', segments: 6 });
    if (!answer.ok) throw answer.error;
    await stack.waitFor(
      () => stack!.updates.some((u) => u.kind === 'segment' && u.jobId === answer.jobId && u.index === 2),
      'the second segment',
    );
    const job = await stack.service.store.job(answer.jobId);
    const cancelled = await stack.service.frontEnd.cancel(answer.jobId, {
      userId: job?.userId ?? '',
      workspaceId: job?.workspaceId ?? '',
      channelId: 'c',
    });
    expect(cancelled).toEqual({ ok: true, state: 'cancelling' });
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the partial clip');

    const delivery = succeeded(stack);
    const made = delivery?.long?.segments ?? 0;
    expect(made).toBeGreaterThanOrEqual(2);
    expect(made).toBeLessThan(6);
    expect(delivery?.long).toMatchObject({ of: 6, stopped: { reason: 'cancelled' } });
    expect(delivery?.frames).toBe(17 + (made - 1) * 16);
    expect((await probeClip(delivery?.mp4Absolute ?? '')).frames).toBe(17 + (made - 1) * 16);
    // Segments after the cancel did no work; the charge is the segments made, the rest of the reservation released.
    const chain = await chainOf(stack, answer.jobId, 6);
    expect(chain.segments).toHaveLength(made);
    const after = await stack.service.store.job(answer.jobId);
    const charged = chain.segments.reduce((sum, s) => sum + Math.max(1, Math.ceil(s.gpuSeconds)), 0);
    expect(after).toMatchObject({ status: 'succeeded', chargedSeconds: charged });
    const quota = await stack.service.store.quota(after?.userId ?? '', after?.workspaceId ?? '', new Date());
    expect(quota).toMatchObject({ reservedSeconds: 0, usedSeconds: charged });
  });

  it('delivers the segments made when a segment fails for good (its GPU lost, no attempts left), charging them alone', async () => {
    stack = await startStack({ redisUrl: REDIS_URL, config: { JOB_ATTEMPTS: 1 } });
    // Two steps a segment: the third step, in segment 2, meets a lost GPU (the worker then exits, as it must).
    const victim = await stack.startWorker('victim', {
      PUSA_TEST_FAIL_DEVICE_AFTER_STEPS: '3',
      PUSA_TEST_FAIL_DEVICE_MARKER: join(stack.dir, 'device-lost'),
    });
    const answer = await long(stack, { ...tiny, steps: 2, prompt: 'a white dot bounces', segments: 3 });
    if (!answer.ok) throw answer.error;
    await victim.exited;
    await stack.startWorker('rescuer');
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the partial clip');

    expect(succeeded(stack)).toMatchObject({
      frames: 17,
      long: { segments: 1, of: 3, stopped: { reason: 'failed', message: expect.stringMatching(/segment 2/) } },
    });
    const chain = await chainOf(stack, answer.jobId, 3);
    expect(chain.segments.map((s) => s.workerId)).toEqual(['victim']);
    const job = await stack.service.store.job(answer.jobId);
    expect(job?.chargedSeconds).toBe(Math.max(1, Math.ceil(chain.segments[0]?.gpuSeconds ?? 0)));
  });

  it('resumes after its worker is killed mid-chain from the last finished segment, redoing none', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const victim = await stack.startWorker('victim');
    const answer = await long(stack, { ...tiny, steps: 8, prompt: 'a white dot bounces', segments: 4 });
    if (!answer.ok) throw answer.error;
    await stack.waitFor(
      () =>
        stack!.updates.some((u) => u.kind === 'progress' && u.jobId === answer.jobId && (u.segment?.index ?? 0) >= 3),
      'segment 3 under way',
    );
    victim.child.kill('SIGKILL');
    await victim.exited;
    await stack.startWorker('rescuer');
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the clip after the kill');

    expect(succeeded(stack)).toMatchObject({ frames: 17 + 3 * 16, long: { segments: 4, of: 4 } });
    const chain = await chainOf(stack, answer.jobId, 4);
    const killedAt = chain.segments.findIndex((s) => s.workerId === 'rescuer');
    // Segments 1 and 2 were made once, by the victim, and kept; the rescuer took over from the segment it killed.
    expect(killedAt).toBeGreaterThanOrEqual(2);
    expect(chain.segments.slice(0, killedAt).every((s) => s.workerId === 'victim')).toBe(true);
    expect(chain.segments.slice(killedAt).every((s) => s.workerId === 'rescuer')).toBe(true);
    for (let index = 1; index <= killedAt; index++) {
      const segment = await stack.service.generate.getJob(segmentJobId(answer.jobId, index));
      expect(segment?.attemptsStarted).toBe(1);
    }
    const landed = stack.updates.flatMap((u) => (u.kind === 'segment' && u.jobId === answer.jobId ? [u.index] : []));
    expect(landed.filter((i) => i === 1)).toHaveLength(1);
  });
});
