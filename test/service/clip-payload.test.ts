import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { GenerationRequest } from '../../commands/index.ts';
import { type Stack, startStack } from './stack.ts';

/**
 * [14] item 2: an extension carries a reference to the earlier clip — its MP4 and latents as blobs — never its raw
 * frames; the worker decodes the MP4 itself. Real Redis, SQLite, worker process, ffmpeg.
 */
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe('extend and transition payloads', () => {
  it('queue the clip as its MP4 and latents, and the worker still extends it frame for frame', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    await stack.startWorker('w1');
    const first = await stack.submit({ task: 't2v', prompt: 'a red circle moves right', steps: 4, frames: 17 });
    if (!first.ok) throw first.error;
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the first clip');
    const clipId = (await stack.service.store.job(first.jobId))?.clip?.id as string;

    // no worker while the extension is queued: its payload can be read before anyone takes it
    const w1 = stack.workers[0];
    w1?.child.kill('SIGTERM');
    await w1?.exited;
    const extension = await stack.submit({ task: 'extend', prompt: 'it keeps moving', steps: 4, clips: [{ clipId }] });
    if (!extension.ok) throw extension.error;
    const queued = await stack.service.generate.getJob(extension.jobId);
    const request = GenerationRequest.parse(queued?.data.request);
    const ref = request.clips[0];
    expect(ref?.mp4Key).toBeDefined();
    expect(ref?.latentsKey).toBeDefined();
    expect(ref?.framesKey).toBeUndefined();

    const redis = new Redis(REDIS_URL);
    try {
      const [mp4Bytes, latentBytes] = await Promise.all([
        redis.strlen(ref?.mp4Key as string),
        redis.strlen(ref?.latentsKey as string),
      ]);
      const clip = (await stack.service.store.job(first.jobId))?.clip;
      expect(mp4Bytes).toBe(clip?.sizeBytes);
      // what the job holds in Redis is the file and the latents, far below the raw frames it used to carry
      const rawFrames = (clip?.frames ?? 0) * (clip?.width ?? 0) * (clip?.height ?? 0) * 3;
      expect(mp4Bytes + latentBytes).toBeLessThan(rawFrames);
    } finally {
      redis.disconnect();
    }

    await stack.startWorker('w2');
    await stack.waitFor(() => stack!.deliveries.length === 2, 'the extension');
    const done = stack.deliveries[1];
    expect(done).toMatchObject({ kind: 'succeeded', jobId: extension.jobId });
    // the earlier clip's frames come first in an extension: the worker decoded all 17 of them from the MP4
    expect((done as { frames: number }).frames).toBeGreaterThan(17);
  });
});
