import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type DeliverJobData,
  GenerationRequest,
  JobName,
  parseOrigin,
  parseStoredJobExtras,
} from '../../commands/index.ts';
import type { JobRecord, Store } from '../../prisma/types.ts';
import { BLOB_TTL_SECONDS, type BlobStore } from '../../queue/blobs.ts';
import type { ContractQueue } from '../../queue/contract.ts';
import { cancelKey } from '../../queue/names.ts';
import { enqueueGenerate } from './enqueue.ts';
import type { JobUpdate } from './events.ts';
import { fairnessPriority } from './front-end.ts';

export interface ReconcilerDeps {
  readonly store: Store;
  readonly generate: ContractQueue<typeof JobName.Generate>;
  /** Where a job that cannot be run again is failed: the delivery consumer settles it and tells its owner. */
  readonly deliver: ContractQueue<typeof JobName.Deliver>;
  readonly blobs: BlobStore;
  /** A plain connection for the lock and the cancel records. */
  readonly redis: Redis;
  readonly prefix: string;
  readonly jobAttempts: number;
  /** Jobs younger than this are left alone: a submit between the store's reservation and the queue's add. */
  readonly graceMs: number;
  /** Most jobs looked at in one pass; the oldest first, so a backlog is worked through over passes. */
  readonly batch?: number;
  readonly onUpdate?: (update: JobUpdate) => void;
  readonly now?: () => Date;
  readonly log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/** What one pass did, by job id. */
export interface ReconcileReport {
  /** False when another bot process held the lock: this pass did nothing. */
  readonly ran: boolean;
  readonly checked: number;
  /** Lost from the queue with their inputs intact: added to it again. */
  readonly requeued: string[];
  /** Lost with their inputs gone (or too old to trust): failed, released and their owners told. */
  readonly failed: string[];
  /** A cancel was recorded for them: cancelled and released. */
  readonly cancelled: string[];
}

/**
 * Repairs jobs the database and the queue disagree on: in flight in the database, yet unknown to BullMQ (the bot died
 * between the reservation and the add; Redis restarted without its data; a failure whose event no bot heard). Each
 * such job would hold its reservation and a slot under the user's cap forever ([13] finding 12). A job is run again
 * when its inputs still exist, failed and released otherwise. Every step is idempotent (the queue's job ids, the
 * store's finishing calls), and a Redis lock keeps several bot processes from doing the same pass at once.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const { store, generate, deliver, blobs, redis } = deps;
  const now = deps.now ?? (() => new Date());
  const lockKey = `${deps.prefix}:reconcile:lock`;

  /** Holds the lock for `ms` unless another process does; released only by its holder. */
  const lock = async (ms: number) => {
    const token = randomUUID();
    if ((await redis.set(lockKey, token, 'PX', ms, 'NX')) !== 'OK') return undefined;
    return () =>
      redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        1,
        lockKey,
        token,
      );
  };

  /** Fails a job through the delivery queue (its consumer releases the reservation and posts the message once). */
  const failThroughDelivery = async (job: JobRecord, code: string, message: string) => {
    const origin = parseOrigin(job.origin);
    if (origin === undefined) {
      // No origin to post to: settle it here, silently, rather than keep it in flight.
      await store.fail(job.id, { code, message, now: now() });
      return;
    }
    const data: DeliverJobData = {
      v: 1,
      jobId: job.id,
      requestId: parseStoredJobExtras(job.parameters).requestId ?? job.id,
      origin,
      outcome: { status: 'failed', code, message },
    };
    await deliver.add(JobName.Deliver, data, {
      jobId: `deliver-${job.id}`,
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    });
  };

  /** One job the database says is in flight: what the queue knows of it, and the repair if it knows nothing. */
  const reconcileJob = async (job: JobRecord): Promise<'ok' | 'requeued' | 'failed' | 'cancelled'> => {
    const queued = await generate.getJob(job.id);
    const state = queued === undefined ? 'missing' : await queued.getState();
    // Its outcome is on its way (or being retried) through the delivery queue: that settles it.
    if ((await deliver.getJob(`deliver-${job.id}`)) !== undefined) return 'ok';
    if (state !== 'missing' && state !== 'unknown' && state !== 'failed') return 'ok';
    // A cancel was asked for (and its removal from the queue may have been the last thing that happened).
    if ((await redis.exists(cancelKey(deps.prefix, job.id))) === 1) {
      await store.cancel(job.id, now());
      return 'cancelled';
    }
    if (state === 'failed') {
      // Failed in the queue without a delivery (its workers kept dying while no bot was listening): settle it.
      await failThroughDelivery(
        job,
        'WorkerLost',
        'the workers running this clip kept stopping; nothing was charged. Please try again.',
      );
      return 'failed';
    }
    // A /long chain whose flow is gone (its root, checked above, is what settles it): its segments' results are
    // out of reach, so it is failed and released rather than run again as one clip.
    if (parseStoredJobExtras(job.parameters).long !== undefined) {
      await failThroughDelivery(
        job,
        'Lost',
        'this long video was lost from the queue before it could be finished; nothing was charged. Please send it again.',
      );
      return 'failed';
    }
    const request = GenerationRequest.safeParse(job.parameters);
    const inputs = request.success
      ? [
          ...request.data.images.map((i) => i.key),
          ...request.data.clips.flatMap((c) => [c.latentsKey, c.mp4Key, c.framesKey].filter((k) => k !== undefined)),
        ]
      : [];
    const tooOld = now().getTime() - job.createdAt.getTime() > BLOB_TTL_SECONDS * 1000;
    if (!request.success || tooOld || !(await blobs.hasAll(...inputs))) {
      await failThroughDelivery(
        job,
        'InputExpired',
        'this request was lost before a worker could finish it, and its inputs have expired; nothing was charged. ' +
          'Please send it again.',
      );
      return 'failed';
    }
    const origin = parseOrigin(job.origin);
    if (origin === undefined) {
      await store.fail(job.id, {
        code: 'Lost',
        message: 'the request was lost and has no origin to run for',
        now: now(),
      });
      return 'failed';
    }
    if (job.status === 'running') await store.requeue(job.id, 'lost from the queue; queued again', now());
    const quota = await store.quota(job.userId, job.workspaceId, now());
    const { maxBytes, requestId } = parseStoredJobExtras(job.parameters);
    await enqueueGenerate(
      generate,
      {
        v: 1,
        jobId: job.id,
        requestId: requestId ?? job.id,
        request: request.data,
        origin,
        estimatedSeconds: job.estimatedSeconds,
        ...(maxBytes === undefined ? {} : { maxBytes }),
      },
      { priority: fairnessPriority(quota), attempts: deps.jobAttempts },
    );
    deps.onUpdate?.({ kind: 'requeued', jobId: job.id, reason: 'it was lost from the queue; it is queued again' });
    return 'requeued';
  };

  /** One pass over the jobs in flight older than the grace period. */
  async function runOnce(): Promise<ReconcileReport> {
    const report = {
      ran: false,
      checked: 0,
      requeued: [] as string[],
      failed: [] as string[],
      cancelled: [] as string[],
    };
    const unlock = await lock(60_000);
    if (unlock === undefined) return report;
    try {
      const jobs = await store.inFlightJobs({
        createdBefore: new Date(now().getTime() - deps.graceMs),
        limit: deps.batch ?? 500,
      });
      for (const job of jobs) {
        try {
          const outcome = await reconcileJob(job);
          if (outcome !== 'ok') report[outcome].push(job.id);
        } catch (error) {
          deps.log?.warn({ jobId: job.id, err: (error as Error).message }, 'could not reconcile a job');
        }
      }
      if (report.requeued.length + report.failed.length + report.cancelled.length > 0)
        deps.log?.info(
          { requeued: report.requeued, failed: report.failed, cancelled: report.cancelled },
          'reconciled jobs the queue had lost',
        );
      return { ...report, ran: true, checked: jobs.length };
    } finally {
      await unlock().catch(() => undefined);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  return {
    runOnce,
    /** Runs a pass every `intervalMs`, the first one interval after the start. */
    start(intervalMs: number) {
      const tick = () => {
        if (stopped) return;
        running = runOnce()
          .catch((error: unknown) => deps.log?.warn({ err: (error as Error).message }, 'reconcile pass failed'))
          .finally(() => {
            if (!stopped) timer = setTimeout(tick, intervalMs);
          });
      };
      timer = setTimeout(tick, intervalMs);
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
export type Reconciler = ReturnType<typeof createReconciler>;
