import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { estimateSeconds, predictSeconds, tokensOf } from '../../commands/index.ts';
import { createTimingBook } from '../../queue/timings.ts';
import { type Stack, startStack } from './stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const shape = { steps: 4, frames: 17 };
const t2v = { task: 't2v' as const, prompt: 'a red circle moves right on a dark blue background', ...shape };

let stack: Stack | undefined;
let redis: Redis | undefined;
afterEach(async () => {
  await stack?.stop();
  await redis?.quit();
  stack = undefined;
  redis = undefined;
});

describe('queue ETAs from measured job times', () => {
  it('records what each job took on its worker and predicts the next jobs from it, not from a constant', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    redis = new Redis(REDIS_URL);
    const book = createTimingBook(redis, stack.prefix);
    const { manifest } = stack.service.pack;
    const pack = `${manifest.name}@${manifest.version}`;
    await stack.startWorker('eta-worker');
    const before = await stack.service.frontEnd.clipSeconds();

    const first = await stack.submit(t2v);
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the first clip');
    const runs = await book.recent(pack);
    await stack.service.generate.pause();
    // The core reads the workers' timings at most every 5 s; the stack's clock is real, so wait for a fresh read.
    while ((await stack.service.frontEnd.clipSeconds()).measured === 0) await new Promise((r) => setTimeout(r, 200));
    const second = await stack.submit(t2v);
    const third = await stack.submit(t2v);

    expect(before.measured).toBe(0);
    expect(first.ok && second.ok && third.ok).toBe(true);
    if (!first.ok || !second.ok || !third.ok) return;
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run).toMatchObject({ pack, device: 'cpu', steps: 4, pixelFrames: 17, guidance: manifest.defaults.guidance });
    expect(run.stepSeconds).toBeGreaterThan(0);
    const charged = (await stack.service.store.job(first.jobId))?.chargedSeconds ?? 0;
    // The timing covers what the job was charged for (rounded up to whole seconds by the store).
    expect(run.stepSeconds * run.steps + run.otherSeconds).toBeLessThanOrEqual(charged);
    expect(run.stepSeconds * run.steps + run.otherSeconds).toBeGreaterThan(charged - 1);
    const [width, height] = manifest.video.sizes[0] as [number, number];
    const own = predictSeconds(
      manifest.cost,
      {
        steps: 4,
        tokens: tokensOf({
          latentFrames: 5,
          latentHeight: height / 8,
          latentWidth: width / 8,
          patch: manifest.latent.patch,
        }),
        guidance: manifest.defaults.guidance,
        pixelFrames: 17,
      },
      runs,
    );
    expect(own.measured).toBe(1);
    // One job like itself ahead of the third, one worker: its ETA is two measured job times.
    expect(third.position).toBe(2);
    expect(third.estimatedSeconds).toBe(Math.max(1, Math.ceil(own.seconds)));
    expect(third.etaSeconds).toBe(2 * third.estimatedSeconds);
    // What the pack's cost model alone would have said (it was measured on another machine), for contrast.
    const modelled = estimateSeconds(manifest.cost, { steps: 4, latentFrames: 5, latentHeight: 16, latentWidth: 16 });
    expect(Math.abs(own.seconds - modelled)).toBeGreaterThan(0.05);
    const job = (await stack.service.store.job(first.jobId))!;
    const quota = await stack.service.frontEnd.quota(job.userId, job.workspaceId);
    expect(quota.explanation).toMatch(
      /wall-clock seconds .*\(measured over the last 1 job\), so \d+ s is about \d+ clips a day/,
    );
  }, 120_000);
});
