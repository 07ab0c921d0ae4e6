import { type ConnectionOptions, Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ChainResult,
  type DeliverJobData,
  type FinishedSegment,
  JobName,
  parseSegmentJobId,
  parseStoredJobExtras,
  segmentJobId,
} from '../../commands/index.ts';
import { joinClips } from '../../media/concat.ts';
import { MediaError } from '../../media/errors.ts';
import type { Store } from '../../prisma/types.ts';
import type { BlobStore } from '../../queue/blobs.ts';
import type { ContractJob } from '../../queue/contract.ts';
import { cancelKey } from '../../queue/names.ts';
import type { ArtifactStore } from '../artifacts.ts';
import type { Delivery, JobUpdate } from './events.ts';

export interface ChainDeliveryDeps {
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly artifacts: ArtifactStore;
  readonly redis: Redis;
  readonly notifyOnce: (delivery: Delivery) => Promise<void>;
  readonly onUpdate?: (update: JobUpdate) => void;
  readonly now: () => Date;
  readonly log?: { warn(o: object, m: string): void };
}

type Base = Pick<DeliverJobData, 'jobId' | 'requestId' | 'origin'>;

/**
 * The bot's half of /long (bot/core/long.ts queues the chain): each segment as it lands, and the chain's end — the
 * root of its flow, a `deliver` job that runs once every segment has. The end joins the finished segments without
 * their repeated leading frames, fitted to the destination's upload limit, stores the clip (with the last segment's
 * latents, so the long clip can be extended in turn), charges the finished segments alone (the reservation's rest
 * is released) and posts it once.
 */
export function createChainDelivery(deps: ChainDeliveryDeps) {
  const { store, blobs, artifacts } = deps;
  const generate = new Queue(JobName.Generate, { connection: deps.connection, prefix: deps.prefix });
  generate.on('error', (error) => deps.log?.warn({ err: error.message }, 'generate queue error'));

  /**
   * The chain as its last segment left it: the root's child value, or, when that segment failed for good, the
   * value of the latest segment that did finish (each holds the chain up to itself).
   */
  const chainOf = async (job: ContractJob<typeof JobName.Deliver>, jobId: string, count: number) => {
    for (const value of Object.values(await job.getChildrenValues())) {
      const parsed = ChainResult.safeParse((value as { chain?: unknown } | null)?.chain);
      if (parsed.success) return parsed.data;
    }
    for (let index = count - 1; index >= 1; index--) {
      const segment = await Job.fromId(generate, segmentJobId(jobId, index));
      const parsed = ChainResult.safeParse((segment?.returnvalue as { chain?: unknown } | undefined)?.chain);
      if (parsed.success)
        return {
          ...parsed.data,
          stopped: parsed.data.stopped ?? {
            reason: 'failed' as const,
            code: 'WorkerLost',
            message: `segment ${index + 1} could not be made`,
          },
        };
    }
    return {
      index: count,
      count,
      segments: [],
      stopped: { reason: 'failed' as const, code: 'WorkerLost', message: 'no segment could be made' },
    };
  };

  async function settleChain(job: ContractJob<typeof JobName.Deliver>, base: Base, count: number): Promise<void> {
    const { jobId } = base;
    const record = await store.job(jobId);
    if (record === null) throw new Error(`job ${jobId} is unknown to this bot's database`);
    const chain = await chainOf(job, jobId, count);
    const made = chain.segments;
    const keys = made.flatMap((s) => [s.mp4Key, s.latentsKey]);
    if (record.status === 'queued' || record.status === 'running') {
      const cancelled =
        chain.stopped?.reason === 'cancelled' || (await deps.redis.exists(cancelKey(deps.prefix, jobId))) === 1;
      if (made.length === 0) {
        if (cancelled) {
          await store.cancel(jobId, deps.now());
          await deps.notifyOnce({ kind: 'cancelled', ...base });
        } else {
          const message = `${chain.stopped?.message ?? 'the chain failed'}; nothing was charged. Please try again.`;
          const code = chain.stopped?.code ?? 'WorkerError';
          await store.fail(jobId, { code, message, now: deps.now() });
          await deps.notifyOnce({ kind: 'failed', ...base, code, message });
        }
        return;
      }
      const done = await join(made, parseStoredJobExtras(record.parameters).maxBytes);
      if (done === undefined) {
        const message =
          'the finished segments expired before they could be joined; nothing was charged. Please try again.';
        await store.fail(jobId, { code: 'ResultExpired', message, now: deps.now() });
        await deps.notifyOnce({ kind: 'failed', ...base, code: 'ResultExpired', message });
        return;
      }
      const paths = await artifacts.save(jobId, { mp4: done.mp4, latents: done.latents });
      const first = made[0] as FinishedSegment;
      // Charged per finished segment, each rounded up as a clip is; the reservation for the rest is released.
      const charged = made.reduce((sum, s) => sum + Math.max(1, Math.ceil(s.gpuSeconds)), 0);
      const completed = await store.complete(jobId, {
        chargedSeconds: charged,
        clip: {
          ...paths,
          frames: done.frames,
          width: first.width,
          height: first.height,
          fps: first.fps,
          sizeBytes: done.mp4.length,
          seed: first.seed,
        },
        now: deps.now(),
      });
      if (completed.job?.clip === null || completed.job === null) {
        // Ended another way meanwhile (an operator's cancel): nothing to post but that.
        await deps.notifyOnce({ kind: 'cancelled', ...base });
        return;
      }
      await blobs.delete(...keys);
      await deps.redis.set(overKey(jobId), done.overLimit ? '1' : '0', 'EX', 7 * 86_400);
    }
    // Settled (now, or by an earlier attempt whose post failed): post it.
    const settled = await store.job(jobId);
    const clip = settled?.clip ?? null;
    if (settled === null || clip === null) {
      await deps.notifyOnce({ kind: 'cancelled', ...base });
      return;
    }
    const stopped =
      chain.stopped === undefined ? undefined : { reason: chain.stopped.reason, message: chain.stopped.message };
    const overLimit = (await deps.redis.get(overKey(jobId))) === '1';
    await deps.notifyOnce({
      kind: 'succeeded',
      ...base,
      clipId: clip.id,
      mp4Path: clip.mp4Path,
      mp4Absolute: artifacts.absolute(clip.mp4Path),
      bytes: clip.sizeBytes,
      frames: clip.frames,
      parameters: { ...settled.parameters, width: clip.width, height: clip.height, fps: clip.fps, seed: clip.seed },
      gpuSeconds: made.reduce((sum, s) => sum + s.gpuSeconds, 0),
      long: {
        segments: made.length,
        of: count,
        ...(stopped === undefined ? {} : { stopped }),
        ...(overLimit ? { overLimit } : {}),
      },
    });
  }

  const overKey = (jobId: string) => `${deps.prefix}:long-over-limit:${jobId}`;

  /** The segments' MP4s joined (fitted to `maxBytes` when they can be) and the last one's latents. */
  async function join(made: readonly FinishedSegment[], maxBytes: number | undefined) {
    const mp4s = await Promise.all(made.map((s) => blobs.get(s.mp4Key)));
    const latents = await blobs.get((made.at(-1) as FinishedSegment).latentsKey);
    if (latents === undefined || mp4s.some((m) => m === undefined)) return undefined;
    const parts = made.map((s, i) => ({ mp4: mp4s[i] as Buffer, skipFrames: s.repeatedFrames }));
    const fps = (made[0] as FinishedSegment).fps;
    const frames = made.reduce((sum, s) => sum + s.frames - s.repeatedFrames, 0);
    try {
      const { mp4 } = await joinClips(parts, { fps, ...(maxBytes === undefined ? {} : { maxBytes }) });
      return { mp4, latents, frames, overLimit: false };
    } catch (error) {
      // Too big for the destination even at the lowest quality: kept at a good one, delivered as a link.
      if (!(error instanceof MediaError) || error.code !== 'Budget') throw error;
      const { mp4 } = await joinClips(parts, { fps });
      return { mp4, latents, frames, overLimit: true };
    }
  }

  /**
   * A segment finished (the generate queue's `completed` event): its MP4 saved beside the job's clip and announced,
   * so front ends post it as it lands. Best effort, like every queue event: the final delivery holds them all.
   */
  async function segmentLanded(bullId: string, returnvalue: unknown): Promise<void> {
    const ids = parseSegmentJobId(bullId);
    if (ids === undefined) return;
    const value = typeof returnvalue === 'string' ? (JSON.parse(returnvalue) as unknown) : returnvalue;
    const parsed = ChainResult.safeParse((value as { chain?: unknown } | null)?.chain);
    if (!parsed.success || parsed.data.stopped !== undefined) return;
    const segment = parsed.data.segments.at(-1);
    if (segment === undefined || segment.index !== ids.index) return;
    const mp4 = await blobs.get(segment.mp4Key);
    if (mp4 === undefined) return;
    const mp4Path = await artifacts.saveSegment(ids.jobId, segment.index, mp4);
    deps.onUpdate?.({
      kind: 'segment',
      jobId: ids.jobId,
      index: segment.index,
      count: parsed.data.count,
      prompt: segment.prompt,
      mp4Path,
      mp4Absolute: artifacts.absolute(mp4Path),
      frames: segment.frames,
      bytes: segment.bytes,
    });
  }

  return { settleChain, segmentLanded, close: () => generate.close() };
}
