import { type ConnectionOptions, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  JobName,
  parseJobData,
  parseJobProgress,
  parseOrigin,
  parseSegmentJobId,
  parseStoredJobExtras,
  salvageJobData,
} from '../../commands/index.ts';
import { decodeSidecar } from '../../media/sidecar.ts';
import type { Store } from '../../prisma/types.ts';
import type { BlobStore } from '../../queue/blobs.ts';
import type { ContractJob } from '../../queue/contract.ts';
import { deliveryBackoffStrategy } from '../../queue/delivery-retry.ts';
import { cancelKey } from '../../queue/names.ts';
import type { ArtifactStore } from '../artifacts.ts';
import { createChainDelivery } from './chain-delivery.ts';
import { classify } from './errors.ts';
import { type Delivery, type JobUpdate, UndeliverableError } from './events.ts';

export interface DeliveryDeps {
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly artifacts: ArtifactStore;
  /** A plain connection for the "notified" markers. */
  readonly redis: Redis;
  /** Posts a finished job to its origin; throwing retries the delivery. */
  readonly deliver: (delivery: Delivery) => Promise<void>;
  readonly onUpdate?: (update: JobUpdate) => void;
  readonly now?: () => Date;
  readonly log?: DeliveryLog;
}

export interface DeliveryLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  /** A delivery given up on; `warn` when absent. */
  error?(o: object, m: string): void;
}

/**
 * Consumes the `deliver` queue on the bot host: stores results in the artifact store, settles the quota (charge on
 * success, release otherwise) and posts to the origin, exactly once per job: the store's finishing calls are
 * idempotent, and a Redis marker written after posting keeps a redelivered message from posting twice.
 * Also follows the `generate` queue's events to record running and requeued jobs.
 */
export function startDelivery(deps: DeliveryDeps) {
  const { store, blobs, artifacts, redis } = deps;
  const now = deps.now ?? (() => new Date());
  const marker = (jobId: string) => `${deps.prefix}:notified:${jobId}`;

  const notifyOnce = async (delivery: Delivery) => {
    if ((await redis.exists(marker(delivery.jobId))) === 1) return;
    await deps.deliver(delivery);
    await redis.set(marker(delivery.jobId), '1', 'EX', 7 * 86_400);
  };

  // /long: the end of each chain (the root of its flow is a deliver job) and each segment as it lands.
  const chains = createChainDelivery({
    connection: deps.connection,
    prefix: deps.prefix,
    store,
    blobs,
    artifacts,
    redis,
    notifyOnce,
    ...(deps.onUpdate === undefined ? {} : { onUpdate: deps.onUpdate }),
    now,
    ...(deps.log === undefined ? {} : { log: deps.log }),
  });

  const settle = async (job: ContractJob<typeof JobName.Deliver>) => {
    const parsed = parseJobData(JobName.Deliver, job.data);
    if (!parsed.ok) throw new UnrecoverableError(parsed.reason);
    const { jobId, requestId, origin, outcome } = parsed.value;
    const base = { jobId, requestId, origin };
    if (outcome.status === 'chain') return chains.settleChain(job, base, outcome.segments);
    if (outcome.status === 'succeeded') {
      let record = await store.job(jobId);
      if (record === null) throw new UnrecoverableError(`job ${jobId} is unknown to this bot's database`);
      // Its owner was told "cancelling" before the clip came back (the worker finished before it read the request):
      // the cancel wins, so the answer holds and nothing is charged.
      if (record.status !== 'succeeded' && (await redis.exists(cancelKey(deps.prefix, jobId))) === 1) {
        await store.cancel(jobId, now());
        await blobs.delete(outcome.mp4Key, outcome.latentsKey);
        await notifyOnce({ kind: 'cancelled', ...base });
        return;
      }
      if (record.status !== 'succeeded') {
        const [mp4, latents] = await Promise.all([blobs.get(outcome.mp4Key), blobs.get(outcome.latentsKey)]);
        if (mp4 === undefined || latents === undefined) {
          await store.fail(jobId, {
            code: 'ResultExpired',
            message: 'the result expired before it could be delivered',
            now: now(),
          });
          await notifyOnce({
            kind: 'failed',
            ...base,
            code: 'ResultExpired',
            message: 'the finished clip expired before it could be delivered; nothing was charged. Please try again.',
          });
          return;
        }
        // The worker's latents are what every later Extend reads: damaged ones (a truncated or invalid sidecar) fail
        // the job as the infrastructure's fault, uncharged, instead of charging for a clip that cannot be continued.
        const damage = sidecarDamage(latents);
        if (damage !== undefined) {
          logError({ jobId, requestId, err: damage }, 'the result of a job arrived damaged: failed, not charged');
          await store.fail(jobId, {
            code: 'ResultDamaged',
            message: `the result's latents are damaged: ${damage}`,
            now: now(),
          });
          await blobs.delete(outcome.mp4Key, outcome.latentsKey);
          await notifyOnce({
            kind: 'failed',
            ...base,
            code: 'ResultDamaged',
            message:
              'the finished clip was damaged on its way back from the worker; nothing was charged. Please try again.',
          });
          return;
        }
        const paths = await artifacts.save(jobId, { mp4, latents });
        const { parentClipId, secondParentClipId } = parseStoredJobExtras(record.parameters);
        const result = await store.complete(jobId, {
          chargedSeconds: Math.max(1, Math.ceil(outcome.gpuSeconds)),
          clip: {
            ...paths,
            frames: outcome.frames,
            width: outcome.parameters.width,
            height: outcome.parameters.height,
            fps: outcome.parameters.fps,
            sizeBytes: outcome.bytes,
            seed: outcome.parameters.seed,
            parentClipId: parentClipId ?? null,
            secondParentClipId: secondParentClipId ?? null,
          },
          now: now(),
        });
        if (result.job === null) throw new Error(`job ${jobId} vanished while completing`);
        record = result.job;
        await blobs.delete(outcome.mp4Key, outcome.latentsKey);
      }
      const clip = record.clip;
      if (clip === null) {
        // Finished another way (cancelled while the last step ran): nothing to post but the cancellation.
        await notifyOnce({ kind: 'cancelled', ...base });
        return;
      }
      await notifyOnce({
        kind: 'succeeded',
        ...base,
        clipId: clip.id,
        mp4Path: clip.mp4Path,
        mp4Absolute: artifacts.absolute(clip.mp4Path),
        bytes: clip.sizeBytes,
        frames: clip.frames,
        parameters: outcome.parameters,
        gpuSeconds: outcome.gpuSeconds,
      });
      return;
    }
    if (outcome.status === 'failed') {
      await store.fail(jobId, { code: outcome.code, message: outcome.message, now: now() });
      await notifyOnce({ kind: 'failed', ...base, code: outcome.code, message: outcome.message });
      return;
    }
    await store.cancel(jobId, now());
    await notifyOnce({ kind: 'cancelled', ...base });
  };

  const logError = (o: object, m: string) => (deps.log?.error ? deps.log.error(o, m) : deps.log?.warn(o, m));

  /**
   * The last attempt failed: end the job instead of leaving it in flight (holding its owner's quota and a slot).
   * A job not yet settled is failed, which releases its reservation; one already completed (charged on an earlier
   * attempt, then never posted) is refunded: failed, its charge given back and its clip removed, since its owner
   * never got it. The owner is told once, best effort: the post that kept failing may be the very thing that is broken.
   */
  const giveUp = async (job: ContractJob<typeof JobName.Deliver>, error: Error) => {
    const { jobId, requestId } = salvageJobData(job.data);
    logError(
      { jobId, deliveryId: job.id, attempts: job.attemptsMade + 1, err: error.message },
      'delivery given up: the job is ended and its owner told',
    );
    if (jobId === undefined) return;
    const message = 'this clip could not be delivered';
    const finished = await store
      .fail(jobId, { code: 'DeliveryFailed', message: `${message}: ${error.message}`, now: now() })
      .catch((failure: unknown) => {
        logError({ jobId, err: (failure as Error).message }, 'could not end an undeliverable job in the database');
        return undefined;
      });
    let record = finished?.job ?? (await store.job(jobId).catch(() => null));
    // Unknown to this database (or the database is away): there is no owner to tell from here.
    if (record === null || record === undefined) return;
    if (record.status === 'succeeded') {
      const clip = record.clip;
      const refunded = await store
        .refund(jobId, { code: 'DeliveryFailed', message: `${message}: ${error.message}`, now: now() })
        .catch((failure: unknown) => {
          logError({ jobId, err: (failure as Error).message }, 'could not refund an undeliverable job');
          return undefined;
        });
      if (refunded?.job !== undefined && refunded.job !== null) record = refunded.job;
      if (refunded?.outcome === 'applied' && clip !== null)
        await artifacts.remove(clip.mp4Path, ...(clip.latentsPath === null ? [] : [clip.latentsPath])).catch(() => {});
    }
    // Stored without a usable origin: the job is ended and refunded, but there is no one to tell.
    const origin = parseOrigin(record.origin);
    if (origin === undefined) return;
    const charged = record.status === 'succeeded';
    await notifyOnce({
      kind: 'failed',
      jobId,
      requestId: requestId ?? jobId,
      origin,
      code: 'DeliveryFailed',
      message: charged
        ? `${message} here; it was made and is in your history.`
        : `${message}; nothing was charged. Please try again.`,
    }).catch((failure: unknown) =>
      logError({ jobId, err: (failure as Error).message }, 'could not tell the owner of an undeliverable job'),
    );
  };

  // `unknown` data: settle() parses it (the contract's DeliverJobData) before anything reads it.
  const worker = new Worker<unknown, void, typeof JobName.Deliver>(
    JobName.Deliver,
    async (job) => {
      try {
        await settle(job);
      } catch (error) {
        // Retried while a retry may work; bot/core/errors.ts decides: a refusal the user must fix ends it now, and so
        // does a result that can never be posted (UndeliverableError: a private reply whose token is gone).
        const final =
          error instanceof UnrecoverableError || error instanceof UndeliverableError || !classify(error).retry;
        if (final || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await giveUp(job, error as Error);
        // BullMQ retries anything but its own UnrecoverableError.
        throw final && !(error instanceof UnrecoverableError)
          ? new UnrecoverableError((error as Error).message)
          : error;
      }
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: 4,
      settings: { backoffStrategy: deliveryBackoffStrategy },
    },
  );

  const events = new QueueEvents(JobName.Generate, { connection: deps.connection, prefix: deps.prefix });
  // Connection errors while Redis restarts: BullMQ reconnects; log them instead of letting them surface unhandled.
  worker.on('error', (error) => deps.log?.warn({ err: error.message }, 'delivery worker error'));
  events.on('error', (error) => deps.log?.warn({ err: error.message }, 'queue events error'));
  // A /long segment's events speak of its chain's job (the one the store, the front ends and cancel know).
  events.on('active', ({ jobId: bullId }) => {
    const segment = parseSegmentJobId(bullId);
    const jobId = segment?.jobId ?? bullId;
    store.markRunning(jobId, { workerId: 'worker', now: now() }).catch(() => undefined);
    if (segment === undefined || segment.index === 1) deps.onUpdate?.({ kind: 'started', jobId, workerId: undefined });
  });
  events.on('progress', ({ jobId, data }) => {
    const p = parseJobProgress(JobName.Generate, data);
    if (p !== undefined) {
      deps.onUpdate?.({
        kind: 'progress',
        jobId: p.chain?.jobId ?? jobId,
        step: p.step,
        total: p.total,
        etaMs: p.chain?.chainEtaMs ?? p.etaMs,
        ...(p.workerId ? { workerId: p.workerId } : {}),
        ...(p.preview ? { preview: p.preview } : {}),
        ...(p.chain === undefined ? {} : { segment: { index: p.chain.index, count: p.chain.count } }),
      });
    }
  });
  events.on('completed', ({ jobId, returnvalue }) => {
    chains
      .segmentLanded(jobId, returnvalue)
      .catch((error: unknown) => deps.log?.warn({ jobId, err: (error as Error).message }, 'segment not announced'));
  });
  events.on('stalled', ({ jobId: bullId }) => {
    const jobId = parseSegmentJobId(bullId)?.jobId ?? bullId;
    store.requeue(jobId, 'worker stopped responding', now()).catch(() => undefined);
    deps.onUpdate?.({ kind: 'requeued', jobId, reason: 'its worker stopped; another worker will pick it up' });
  });

  // A job whose workers kept dying fails without a processor to report it: tell its owner here.
  events.on('failed', ({ jobId, failedReason }) => {
    // A segment's failure is its chain's to report: the chain goes on and its end delivers what was made.
    if (!/stalled/i.test(failedReason) || parseSegmentJobId(jobId) !== undefined) return;
    void (async () => {
      const record = await store.job(jobId);
      if (record === null || (record.status !== 'queued' && record.status !== 'running')) return;
      const origin = parseOrigin(record.origin);
      const requestId = parseStoredJobExtras(record.parameters).requestId ?? jobId;
      await store.fail(jobId, { code: 'WorkerLost', message: failedReason, now: now() });
      // Stored without a usable origin: failed (and released) all the same, with nobody to tell.
      if (origin === undefined) return;
      await notifyOnce({
        kind: 'failed',
        jobId,
        requestId,
        origin,
        code: 'WorkerLost',
        message: 'the workers running this clip kept stopping; nothing was charged. Please try again.',
      });
    })().catch((error: unknown) =>
      deps.log?.warn({ jobId, err: (error as Error).message }, 'could not report a lost job'),
    );
  });

  return {
    worker,
    events,
    async close() {
      await Promise.allSettled([worker.close(), events.close(), chains.close()]);
    },
  };
}

/** Why sidecar bytes cannot be used, or undefined when they can. */
function sidecarDamage(bytes: Uint8Array): string | undefined {
  try {
    decodeSidecar(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'the latents');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
